// A pino logger whose lines stay in memory, so a test can count what a component logged
// ("certificate issued", "ADS stream refused", ...) without parsing a child process's output.
import { pino, type Logger } from "pino";

export interface LogRecord {
  level: number;
  msg: string;
  name?: string;
  [field: string]: unknown;
}

export interface CapturedLog {
  logger: Logger;
  records(): LogRecord[];
  /** Records whose message starts with `msg` (pino's message, not the fields). */
  withMessage(msg: string | RegExp): LogRecord[];
}

export function captureLog(name: string, level = "info"): CapturedLog {
  const records: LogRecord[] = [];
  // pino writes one JSON line per call to a stream with a synchronous write().
  const stream = {
    write(line: string) {
      for (const l of line.split("\n")) if (l) records.push(JSON.parse(l) as LogRecord);
    },
  };
  const logger = pino({ name, level, base: undefined }, stream);
  return {
    logger,
    records: () => records,
    withMessage: (msg) => records.filter((r) => (typeof msg === "string" ? r.msg.startsWith(msg) : msg.test(r.msg))),
  };
}
