// Public entry points of the config reader.
export { parseConfigText } from "./parse.ts";
export { loadConfigDir } from "./load.ts";
export { formatPath } from "./yaml.ts";
export { parseDurationMs } from "./semantic/checks.ts";
