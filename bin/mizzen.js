#!/usr/bin/env node
// Entry point for `npx mizzen`: the CLI itself is TypeScript run directly by Node 24.
import "../src/cli/main.ts";
