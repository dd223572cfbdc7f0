// Fetches from the control plane's dashboard API. Every failure becomes an ApiError with a
// sentence an operator can act on (unreachable, HTTP status, bad JSON), never a raw TypeError.
import type { DetailsResponse, GraphResponse, ProxiesResponse, Selection } from "./types.ts";

export class ApiError extends Error {
  readonly status: number | undefined;
  constructor(message: string, status?: number) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

const TIMEOUT_MS = 5_000;

async function getJson(path: string, signal?: AbortSignal): Promise<unknown> {
  const timeout = AbortSignal.timeout(TIMEOUT_MS);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  let res: Response;
  try {
    res = await fetch(path, { signal: combined, headers: { accept: "application/json" } });
  } catch (err) {
    if (signal?.aborted) throw err;
    const why = timeout.aborted ? `no answer within ${TIMEOUT_MS / 1000} s` : (err as Error).message;
    throw new ApiError(`control plane unreachable (${why})`);
  }
  const text = await res.text();
  if (!res.ok) {
    let detail = text.trim().slice(0, 300);
    try {
      const body = JSON.parse(text) as { error?: unknown };
      if (typeof body.error === "string") detail = body.error;
    } catch {
      // not JSON: keep the text
    }
    throw new ApiError(`${path} answered HTTP ${res.status}${detail ? `: ${detail}` : ""}`, res.status);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(`${path} did not answer JSON: ${text.slice(0, 120)}`, res.status);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}

export async function fetchGraph(signal?: AbortSignal): Promise<GraphResponse> {
  const body = await getJson("/api/dashboard/graph", signal);
  if (!isObject(body) || !Array.isArray(body.nodes) || !Array.isArray(body.edges)) {
    throw new ApiError("/api/dashboard/graph: unexpected JSON (no nodes/edges arrays)");
  }
  const graph = body as unknown as GraphResponse;
  if (!isObject(graph.scrape)) graph.scrape = { proxies: 0, failed: [] };
  if (!Array.isArray(graph.scrape.failed)) graph.scrape.failed = [];
  return graph;
}

export async function fetchProxies(signal?: AbortSignal): Promise<ProxiesResponse> {
  const body = await getJson("/api/dashboard/proxies", signal);
  if (!isObject(body) || !Array.isArray(body.proxies)) {
    throw new ApiError("/api/dashboard/proxies: unexpected JSON (no proxies array)");
  }
  return body as unknown as ProxiesResponse;
}

export async function fetchDetails(sel: Selection, signal?: AbortSignal): Promise<DetailsResponse> {
  const q = new URLSearchParams({ [sel.type]: sel.id });
  const body = await getJson(`/api/dashboard/details?${q}`, signal);
  if (!isObject(body) || typeof body.title !== "string") {
    throw new ApiError("/api/dashboard/details: unexpected JSON (no title)");
  }
  const details = body as unknown as DetailsResponse;
  if (!Array.isArray(details.config)) details.config = [];
  if (!Array.isArray(details.hints)) details.hints = [];
  if (!isObject(details.numbers)) details.numbers = { rps: 0, errorRate: 0, p99Ms: null };
  return details;
}
