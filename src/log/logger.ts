// One logger factory for every Mizzen process. JSON lines (pino) by default; a short human
// line ("12:00:01 WARN  ads NACK proxy=... type=...") when MIZZEN_LOG_FORMAT=text, which the
// local runner sets so a terminal full of prefixed process output stays readable.
import { pino, type Logger } from "pino";
import { Writable } from "node:stream";

const LEVEL_NAMES: Record<number, string> = { 10: "TRACE", 20: "DEBUG", 30: "INFO ", 40: "WARN ", 50: "ERROR", 60: "FATAL" };
const SKIP = new Set(["level", "time", "pid", "hostname", "msg", "name"]);

function formatValue(v: unknown): string {
  if (typeof v === "string") return /[\s"]/.test(v) ? JSON.stringify(v) : v;
  return JSON.stringify(v);
}

/** Turns one pino JSON line into a one-line human message. Exported for tests. */
export function humanLine(json: string): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const t = new Date(typeof rec.time === "number" ? rec.time : Date.now()).toISOString().slice(11, 19);
  const level = LEVEL_NAMES[rec.level as number] ?? String(rec.level);
  const fields = Object.keys(rec).filter((k) => !SKIP.has(k)).map((k) => `${k}=${formatValue(rec[k])}`);
  return `${t} ${level} ${rec.name ? `${String(rec.name)} ` : ""}${String(rec.msg ?? "")}${fields.length ? ` ${fields.join(" ")}` : ""}`;
}

function humanStream(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line) out.write(`${humanLine(line)}\n`);
      done();
    },
  });
}

export interface LoggerOptions {
  name: string;
  level?: string;
  /** "json" or "text"; defaults to MIZZEN_LOG_FORMAT, else json. */
  format?: string;
}

export function createLogger(opts: LoggerOptions): Logger {
  const format = opts.format ?? process.env.MIZZEN_LOG_FORMAT ?? "json";
  const level = opts.level ?? process.env.MIZZEN_LOG_LEVEL ?? "info";
  const base = { name: opts.name, level, base: undefined };
  return format === "text" ? pino(base, humanStream(process.stderr)) : pino(base, pino.destination(2));
}

/** A logger that drops everything: the default in tests and library code. */
export const silentLogger: Logger = pino({ level: "silent" });
