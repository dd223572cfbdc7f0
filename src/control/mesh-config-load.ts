// Reads the mesh config file for the control plane and reports tracing config that cannot act
// (unknown providers, collectors not in the registry) as one log line per problem, once.
import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import { formatConfigError, type ConfigError } from "../api/types.ts";
import { UserError } from "../cli/user-error.ts";
import type { MeshConfig } from "../translate/mesh-config.ts";
import { tracingWarnings } from "../translate/telemetry-tracing.ts";
import type { Registry } from "../registry/types.ts";
import type { ConfigObject } from "../api/types.ts";
import { parseMeshConfigText, type MeshConfigOverrides } from "./mesh-config-file.ts";

const MAX_BYTES = 1024 * 1024;

/** The file's settings; a missing, unreadable or invalid file is a UserError naming file:line. */
export function loadMeshConfigFile(file: string, logger: Logger): MeshConfigOverrides {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new UserError(`cannot read the mesh config ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (pass an existing file with --mesh-config)`);
  }
  if (text.length > MAX_BYTES) throw new UserError(`the mesh config ${file} is larger than 1 MiB`);
  const { mesh, errors } = parseMeshConfigText(text, file);
  const bad = errors.filter((e) => e.severity === "error");
  for (const w of errors.filter((e) => e.severity === "warning")) logger.warn(`mesh config: ${formatConfigError(w)}`);
  if (bad.length) throw new UserError(`the mesh config is invalid:\n${bad.map(formatConfigError).join("\n")}`);
  return mesh;
}

/** Logs each tracing warning the first time it appears for the current config. */
export class TracingWarningLog {
  private seen = new Set<string>();
  private readonly logger: Logger;
  constructor(logger: Logger) {
    this.logger = logger;
  }
  report(input: { objects: ConfigObject[]; registry: Registry; mesh: MeshConfig }): ConfigError[] {
    const now = tracingWarnings(input);
    const next = new Set<string>();
    for (const w of now) {
      const line = formatConfigError(w);
      next.add(line);
      if (!this.seen.has(line)) this.logger.warn(`tracing: ${line}`);
    }
    this.seen = next;
    return now;
  }
}
