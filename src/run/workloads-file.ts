// The local runner's workloads file (docs/workloads.md): which applications `mizzen up` starts,
// with the identity (labels, namespace, service account) their sidecars announce over xDS.
// Every problem is reported as one line "file:line:col: where: what; how to fix", all at once.
import { readFile } from "node:fs/promises";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node, type Pair, type YAMLMap } from "yaml";

export interface WorkloadPort {
  name: string;
  port: number;
}

export interface WorkloadSpec {
  name: string;
  namespace: string;
  serviceAccount: string;
  labels: Record<string, string>;
  ports: WorkloadPort[];
  /** argv (run directly) or a string (run by /bin/sh -c). */
  command: string[] | string;
  env: Record<string, string>;
  replicas: number;
  /** 1-based line of the entry in the file, for messages. */
  line: number;
}

/** All the problems found in one workloads file; message is one line per problem. */
export class WorkloadsFileError extends Error {
  override name = "WorkloadsFileError";
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join("\n"));
    this.problems = problems;
  }
}

const FIELDS = ["name", "namespace", "serviceAccount", "labels", "ports", "port", "command", "env", "replicas"];
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
const PORT_NAME = /^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/;
/** Ports the sidecar itself takes on the pod IP (docs/architecture.md). */
const SIDECAR_PORTS = new Map([[15000, "the sidecar's admin port"], [15001, "the sidecar's outbound proxy port"]]);
const MAX_REPLICAS = 50;

interface Ctx {
  file: string;
  lines: LineCounter;
  problems: string[];
}

function report(ctx: Ctx, node: Node | Pair | null | undefined, where: string, what: string): void {
  const offset = nodeOffset(node);
  const pos = offset === undefined ? undefined : ctx.lines.linePos(offset);
  ctx.problems.push(`${ctx.file}${pos ? `:${pos.line}:${pos.col}` : ""}: ${where}: ${what}`);
}

function nodeOffset(node: Node | Pair | null | undefined): number | undefined {
  if (!node) return undefined;
  if ("range" in node && node.range) return node.range[0];
  if ("key" in node) return nodeOffset(node.key as Node) ?? nodeOffset(node.value as Node);
  return undefined;
}

function scalarString(node: unknown): string | undefined {
  if (!isScalar(node)) return undefined;
  const v = node.value;
  return typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? String(v) : undefined;
}

function stringMap(ctx: Ctx, node: unknown, where: string, check?: (k: string, v: string, pair: Pair) => void): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isMap(node)) {
    report(ctx, node as Node, where, "must be a map of name: value, like { app: reviews }");
    return out;
  }
  for (const pair of node.items) {
    const k = scalarString(pair.key);
    const v = pair.value === null ? "" : scalarString(pair.value);
    if (k === undefined || v === undefined) {
      report(ctx, pair, where, "every entry must be name: plain value (no lists or maps)");
      continue;
    }
    check?.(k, v, pair);
    out[k] = v;
  }
  return out;
}

function portNumber(ctx: Ctx, node: unknown, where: string): number | undefined {
  const n = isScalar(node) ? node.value : undefined;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > 65535) {
    report(ctx, node as Node, where, `bad port ${JSON.stringify(isScalar(node) ? node.value : "(not a number)")}; use a number 1..65535, like 9080`);
    return undefined;
  }
  const reserved = SIDECAR_PORTS.get(n);
  if (reserved) {
    report(ctx, node as Node, where, `port ${n} is ${reserved} on the pod IP; pick another port for the application`);
    return undefined;
  }
  return n;
}

function parsePorts(ctx: Ctx, map: YAMLMap, where: string): WorkloadPort[] {
  const single = map.get("port", true);
  const list = map.get("ports", true);
  if (single !== undefined && list !== undefined) {
    report(ctx, single as Node, where, "has both port and ports; keep one");
    return [];
  }
  if (single !== undefined) {
    const port = portNumber(ctx, single, `${where}.port`);
    return port ? [{ name: "http", port }] : [];
  }
  if (list === undefined) return [];
  if (!isSeq(list)) {
    report(ctx, list as Node, `${where}.ports`, "must be a list, like [ { name: http, port: 9080 } ]");
    return [];
  }
  const out: WorkloadPort[] = [];
  list.items.forEach((item, i) => {
    const at = `${where}.ports[${i}]`;
    if (isScalar(item)) {
      const port = portNumber(ctx, item, at);
      if (port) out.push({ name: "http", port });
      return;
    }
    if (!isMap(item)) return report(ctx, item as Node, at, "must be { name: http, port: 9080 }");
    for (const pair of item.items) {
      const k = scalarString(pair.key);
      if (k !== "name" && k !== "port") report(ctx, pair, at, `unknown field "${k}"; a port has only name and port`);
    }
    const name = item.has("name") ? scalarString(item.get("name", true)) : "http";
    if (name === undefined || !PORT_NAME.test(name)) report(ctx, item.get("name", true) as Node, `${at}.name`, `bad port name ${JSON.stringify(name)}; use lowercase letters, digits and '-' (at most 15), like http`);
    if (!item.has("port")) return report(ctx, item, at, "missing port; add port: 9080");
    const port = portNumber(ctx, item.get("port", true), `${at}.port`);
    if (port && name !== undefined) out.push({ name, port });
  });
  const seen = new Set<number>();
  for (const p of out) {
    if (seen.has(p.port)) report(ctx, list as Node, `${where}.ports`, `port ${p.port} is listed twice; each port once`);
    seen.add(p.port);
  }
  return out;
}

function parseCommand(ctx: Ctx, node: unknown, where: string, entry: YAMLMap): string[] | string | undefined {
  if (node === undefined) {
    report(ctx, entry, where, 'missing command; add command: ["node", "app.ts"] (argv) or command: "./start.sh" (shell)');
    return undefined;
  }
  if (isScalar(node) && typeof node.value === "string" && node.value.trim()) return node.value;
  if (isSeq(node) && node.items.length > 0) {
    const argv = node.items.map((i) => scalarString(i));
    if (argv.every((a): a is string => a !== undefined) && argv[0] !== "") return argv;
  }
  report(ctx, node as Node, `${where}.command`, 'must be a non-empty list of strings, like ["node", "app.ts"], or a shell string');
  return undefined;
}

function parseEntry(ctx: Ctx, node: unknown, i: number): WorkloadSpec | undefined {
  const where = `workloads[${i}]`;
  if (!isMap(node)) {
    report(ctx, node as Node, where, "must be a map with at least name and command");
    return undefined;
  }
  for (const pair of node.items) {
    const k = scalarString(pair.key) ?? "?";
    if (!FIELDS.includes(k)) report(ctx, pair, where, `unknown field "${k}"; allowed: ${FIELDS.join(", ")}`);
  }
  const before = ctx.problems.length;
  const text = (key: string, fallback: string | undefined, re: RegExp, hint: string): string => {
    const n = node.get(key, true);
    if (n === undefined) {
      if (fallback === undefined) report(ctx, node, where, `missing ${key}; ${hint}`);
      return fallback ?? "";
    }
    const v = scalarString(n);
    if (v === undefined || !re.test(v)) report(ctx, n as Node, `${where}.${key}`, `bad value ${JSON.stringify(v ?? "(not text)")}; ${hint}`);
    return v ?? "";
  };
  const name = text("name", undefined, DNS_LABEL, "use a DNS-1123 name: lowercase letters, digits and '-', like reviews-v2");
  const namespace = text("namespace", "default", DNS_LABEL, "use a DNS-1123 name like default");
  const serviceAccount = text("serviceAccount", "default", DNS_SUBDOMAIN, "use a DNS-1123 name like bookinfo-reviews");
  const labels = node.has("labels")
    ? stringMap(ctx, node.get("labels", true), `${where}.labels`, (k, v, pair) => {
        if (!LABEL_KEY.test(k) || !LABEL_VALUE.test(v)) report(ctx, pair, `${where}.labels`, `bad label ${k}=${v}; keys and values are letters, digits, '-', '_' and '.' (at most 63)`);
      })
    : {};
  const ports = parsePorts(ctx, node, where);
  const command = parseCommand(ctx, node.get("command", true), where, node);
  const env = node.has("env") ? stringMap(ctx, node.get("env", true), `${where}.env`) : {};
  let replicas = 1;
  if (node.has("replicas")) {
    const r = node.get("replicas", true);
    const v = isScalar(r) ? r.value : undefined;
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > MAX_REPLICAS) {
      report(ctx, r as Node, `${where}.replicas`, `bad replicas ${JSON.stringify(v ?? "(not a number)")}; use a whole number 1..${MAX_REPLICAS}`);
    } else replicas = v;
  }
  if (ctx.problems.length > before || command === undefined) return undefined;
  const line = ctx.lines.linePos(node.range?.[0] ?? 0).line;
  return { name, namespace, serviceAccount, labels, ports, command, env, replicas, line };
}

/** Parses and validates a workloads file's text. Throws WorkloadsFileError listing every problem. */
export function parseWorkloads(text: string, file = "workloads.yaml"): WorkloadSpec[] {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  const ctx: Ctx = { file, lines, problems: [] };
  for (const e of doc.errors) {
    const pos = lines.linePos(e.pos[0]);
    ctx.problems.push(`${file}:${pos.line}:${pos.col}: YAML: ${e.message.split("\n")[0]}`);
  }
  if (ctx.problems.length) throw new WorkloadsFileError(ctx.problems);
  const root = doc.contents;
  if (!isMap(root) || !root.has("workloads")) {
    throw new WorkloadsFileError([`${file}:1:1: top level: expected "workloads:" followed by a list of workloads (see docs/workloads.md)`]);
  }
  for (const pair of root.items) {
    const k = scalarString(pair.key);
    if (k !== "workloads") report(ctx, pair, "top level", `unknown field "${k}"; only "workloads" is allowed`);
  }
  const list = root.get("workloads", true);
  if (!isSeq(list) || list.items.length === 0) {
    report(ctx, (list as Node) ?? root, "workloads", "must be a non-empty list of workloads");
    throw new WorkloadsFileError(ctx.problems);
  }
  const out: WorkloadSpec[] = [];
  list.items.forEach((item, i) => {
    const spec = parseEntry(ctx, item, i);
    if (spec) out.push(spec);
  });
  const firstLine = new Map<string, number>();
  for (const w of out) {
    const first = firstLine.get(w.name);
    if (first !== undefined) ctx.problems.push(`${file}:${w.line}:1: workloads: duplicate name "${w.name}" (first at line ${first}); names must be unique`);
    else firstLine.set(w.name, w.line);
    const longest = w.replicas > 1 ? `${w.name}-${w.replicas - 1}` : w.name;
    if (longest.length > 63) ctx.problems.push(`${file}:${w.line}:1: workloads: pod name "${longest}" is longer than 63 characters; shorten the name`);
  }
  if (ctx.problems.length) throw new WorkloadsFileError(ctx.problems);
  return out;
}

/** Reads and parses a workloads file; a missing file is a WorkloadsFileError too. */
export async function readWorkloadsFile(path: string): Promise<WorkloadSpec[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new WorkloadsFileError([`${path}: cannot read it (${code ?? (err as Error).message}); a mesh folder needs a workloads.yaml (see docs/workloads.md)`]);
  }
  return parseWorkloads(text, path);
}
