// A small parser for Prometheus' text exposition format (0.0.4), enough to read a sidecar's
// /stats/prometheus page: comment lines, and sample lines `name{label="value",...} value
// [timestamp]` with the format's escapes in label values. Like Prometheus itself, one line it
// cannot read fails the whole page, so a port that answers something else (an HTML page, a
// binary protocol) is reported instead of read as half a page.

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export class PrometheusTextError extends Error {}

const NAME_START = /[a-zA-Z_:]/;
const NAME_CHAR = /[a-zA-Z0-9_:]/;
const LABEL_START = /[a-zA-Z_]/;
const LABEL_CHAR = /[a-zA-Z0-9_]/;

/** A sample value: a float, or +Inf / -Inf / NaN as Prometheus spells them. */
export function parseSampleValue(token: string): number | undefined {
  switch (token) {
    case "+Inf":
    case "Inf":
      return Infinity;
    case "-Inf":
      return -Infinity;
    case "NaN":
      return NaN;
  }
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(token)) return undefined;
  return Number(token);
}

function show(line: string): string {
  return JSON.stringify(line.length > 80 ? `${line.slice(0, 80)}...` : line);
}

/** Reads one sample line; throws a PrometheusTextError naming the line on anything else. */
function parseLine(line: string, n: number): PromSample {
  const fail = (why: string): never => {
    throw new PrometheusTextError(`line ${n}: ${why}: ${show(line)}`);
  };
  let i = 0;
  if (!NAME_START.test(line[0] ?? "")) fail("expected a metric name");
  while (i < line.length && NAME_CHAR.test(line[i])) i++;
  const name = line.slice(0, i);
  const labels: Record<string, string> = {};
  if (line[i] === "{") {
    i++;
    for (;;) {
      while (line[i] === " " || line[i] === "\t") i++;
      if (line[i] === "}") {
        i++;
        break;
      }
      const start = i;
      if (!LABEL_START.test(line[i] ?? "")) fail("expected a label name");
      while (i < line.length && LABEL_CHAR.test(line[i])) i++;
      const label = line.slice(start, i);
      while (line[i] === " " || line[i] === "\t") i++;
      if (line[i] !== "=") fail(`expected = after label ${label}`);
      i++;
      while (line[i] === " " || line[i] === "\t") i++;
      if (line[i] !== '"') fail(`expected a quoted value for label ${label}`);
      i++;
      let value = "";
      for (;;) {
        const c = line[i];
        if (c === undefined) fail(`unterminated value of label ${label}`);
        i++;
        if (c === '"') break;
        if (c === "\\") {
          const e = line[i++];
          value += e === "n" ? "\n" : e === "\\" || e === '"' ? e : `\\${e ?? ""}`;
        } else value += c;
      }
      labels[label] = value;
      while (line[i] === " " || line[i] === "\t") i++;
      if (line[i] === ",") i++;
      else if (line[i] !== "}") fail("expected , or } after a label");
    }
  }
  if (line[i] !== " " && line[i] !== "\t") fail("expected a space before the value");
  const rest = line.slice(i).trim().split(/[ \t]+/);
  if (rest.length > 2 || rest[0] === "") fail("expected a value and at most a timestamp");
  const value = parseSampleValue(rest[0]);
  if (value === undefined) fail(`"${rest[0]}" is not a number`);
  if (rest.length === 2 && !/^-?\d+$/.test(rest[1])) fail(`"${rest[1]}" is not a timestamp`);
  return { name, labels, value: value! };
}

/**
 * Every sample of the page whose metric name `keep` accepts (all by default). Every line is
 * checked, kept or not; throws PrometheusTextError on the first line that is not the format.
 */
export function parsePrometheusText(text: string, keep: (name: string) => boolean = () => true): PromSample[] {
  const out: PromSample[] = [];
  let n = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    n++;
    let line = text.slice(start, end);
    start = end + 1;
    if (line.endsWith("\r")) line = line.slice(0, -1);
    if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
    const sample = parseLine(line.trimStart(), n);
    if (keep(sample.name)) out.push(sample);
  }
  return out;
}
