// Shared by the read-only inspection commands (proxy-status, proxy-config, describe): where
// output goes, fetching JSON from the control plane or a sidecar with one-line errors, tables,
// resolving a proxy name to a connected node id, and reading Istio's metadata Structs.
import { UserError, parseHostPort } from "./user-error.ts";
import type { ProxySyncStatus } from "../xds/sync-status.ts";

/** Where a command writes: one line at a time (tests collect lines, the CLI prints them). */
export interface Output {
  log(line: string): void;
}

export interface InspectOptions {
  /** The control plane's debug address, host:port (default 127.0.0.1:15014). */
  control: string;
  /** "table" (default) or "json". */
  output?: string;
}

export const DEFAULT_CONTROL = "127.0.0.1:15014";

export function outputFormat(o: InspectOptions): "table" | "json" {
  const f = o.output ?? "table";
  if (f !== "table" && f !== "json") throw new UserError(`-o "${f}" is not a known format; use -o json or leave it out for a table`);
  return f;
}

export function controlBase(control: string): string {
  const { host, port } = parseHostPort("--control", control);
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** GET a JSON page; an unreachable server becomes a UserError naming `what` and `fix`. */
export async function getJson<T>(url: string, what: string, fix: string): Promise<{ status: number; body: T }> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (err as Error).message;
    throw new UserError(`${what} is not reachable at ${new URL(url).host} (${why}); ${fix}`);
  }
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) as T };
  } catch {
    throw new UserError(`${what} at ${new URL(url).host} answered ${url} with something that is not JSON (status ${res.status}); is that address really ${what}?`);
  }
}

export const CONTROL_FIX = "start it with `mizzen up DIR` or `mizzen control --config DIR`, or pass --control HOST:PORT (its debug address)";

export async function controlJson<T>(control: string, path: string): Promise<T> {
  const { status, body } = await getJson<T>(`${controlBase(control)}${path}`, "the control plane", CONTROL_FIX);
  if (status !== 200) throw new UserError(`the control plane answered ${path} with status ${status}; is --control ${control} a Mizzen control plane's debug address?`);
  return body;
}

/** Pads columns to line up, like istioctl's tables. */
export function renderTable(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join("   ").trimEnd();
  return [line(header), ...rows.map(line)];
}

/** The parts of an Istio-style node id "sidecar~<ip>~<name>.<ns>~<ns>.svc.cluster.local". */
export function parseNodeId(id: string): { type: string; ip: string; name: string; namespace: string } {
  const [type = "", ip = "", podNs = ""] = id.split("~");
  const dot = podNs.lastIndexOf(".");
  return { type, ip, name: dot > 0 ? podNs.slice(0, dot) : podNs, namespace: dot > 0 ? podNs.slice(dot + 1) : "" };
}

/** "name.namespace" of a node id, as the NAME column shows it. */
export function proxyDisplayName(id: string): string {
  const p = parseNodeId(id);
  return p.name ? `${p.name}${p.namespace ? `.${p.namespace}` : ""}` : id;
}

/** Resolves a name (`reviews-v1`, `reviews-v1.default`, a pod IP or a full node id) to one connected proxy. */
export async function resolveProxy(control: string, wanted: string): Promise<ProxySyncStatus> {
  const all = await controlJson<ProxySyncStatus[]>(control, "/debug/syncz");
  const exact = all.find((p) => p.proxyId === wanted);
  if (exact) return exact;
  const matches = all.filter((p) => {
    const n = parseNodeId(p.proxyId);
    return wanted === `${n.name}.${n.namespace}` || wanted === n.name || wanted === n.ip;
  });
  if (matches.length === 1) return matches[0];
  const names = (list: ProxySyncStatus[]) => list.map((p) => proxyDisplayName(p.proxyId)).sort().join(", ");
  if (matches.length > 1) {
    throw new UserError(`proxy "${wanted}" is ambiguous: it matches ${names(matches)}; name one as NAME.NAMESPACE or by its full node id`);
  }
  if (all.length === 0) throw new UserError(`no proxy is connected to the control plane at ${control}; start the sidecars (mizzen up DIR) and try again`);
  throw new UserError(`no connected proxy "${wanted}"; connected: ${names(all)} (see mizzen proxy-status)`);
}

/**
 * Reads a string field of metadata.filter_metadata.istio: the control plane's dump keeps
 * protobuf Struct form ({ fields: { k: { string_value } } }), a plain object also works.
 */
export function istioMetaString(resource: unknown, key: string): string | undefined {
  const istio = (resource as { metadata?: { filter_metadata?: Record<string, unknown> } })?.metadata?.filter_metadata?.istio as Record<string, unknown> | undefined;
  if (!istio) return undefined;
  const fields = istio.fields as Record<string, { string_value?: string }> | undefined;
  const v = fields ? fields[key]?.string_value : istio[key];
  return typeof v === "string" ? v : undefined;
}

/** "/apis/networking.istio.io/v1/namespaces/<ns>/<kind>/<name>" -> "<name>.<ns>". */
export function configPathName(path: string | undefined): string | undefined {
  const m = path ? /\/namespaces\/([^/]+)\/[^/]+\/([^/]+)$/.exec(path) : null;
  return m ? `${m[2]}.${m[1]}` : undefined;
}
