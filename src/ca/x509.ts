// The one door to @peculiar/x509 for src/ca. That library resolves its extension parsers through
// tsyringe, which refuses to load unless the Reflect metadata API exists, so the standard
// polyfill is loaded first (ESM evaluates imports in order).
import "reflect-metadata";
export * from "@peculiar/x509";
