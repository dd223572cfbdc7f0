// A mistake the user can fix (bad flag, missing folder, port in use). The CLI prints its
// message as one line, with the fix, and exits 1: never a stack trace for these.
export class UserError extends Error {
  override name = "UserError";
}

/** Parses "host:port" (or ":port" / "port", host defaulting to 127.0.0.1). */
export function parseHostPort(flag: string, value: string): { host: string; port: number } {
  const m = /^(?:\[?([^\]]*?)\]?:)?(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    throw new UserError(`${flag} "${value}" is not HOST:PORT; write it like ${flag} 127.0.0.1:15010`);
  }
  return { host: m[1] || "127.0.0.1", port };
}

/** Parses "k=v,k2=v2" into a record. */
export function parseLabels(flag: string, value: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of value.split(",").map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf("=");
    if (eq <= 0) throw new UserError(`${flag}: "${part}" is not key=value; write it like ${flag} app=reviews,version=v1`);
    out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

/** Parses "http:9080,grpc:7070" (or bare "9080") into named ports. */
export function parsePorts(flag: string, value: string): { name: string; containerPort: number; protocol: string }[] {
  return value.split(",").map((s) => s.trim()).filter(Boolean).map((part) => {
    const m = /^(?:([a-z0-9][-a-z0-9]*):)?(\d{1,5})$/i.exec(part);
    const port = m ? Number(m[2]) : 0;
    if (!m || port < 1 || port > 65535) {
      throw new UserError(`${flag}: "${part}" is not NAME:PORT; write it like ${flag} http:9080`);
    }
    return { name: m[1] ?? "", containerPort: port, protocol: "TCP" };
  });
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** "90s", "15m", "24h", "2d" (or a bare number of seconds) -> whole seconds. */
export function parseDurationSeconds(flag: string, value: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(value.trim());
  const seconds = m ? Number(m[1]) * DURATION_UNITS[m[2] || "s"]! : NaN;
  if (!Number.isSafeInteger(seconds) || seconds <= 0) throw new UserError(`${flag} "${value}" is not a duration; write it like 90s, 15m, 24h or 2d`);
  return seconds;
}
