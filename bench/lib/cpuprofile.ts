// Reads a V8 .cpuprofile (what `node --cpu-prof` writes) and aggregates time per function:
// self time (samples whose top frame is the function) and total time (samples with the
// function anywhere on the stack, counted once per sample), keyed by name + file:line.
import { readFileSync } from "node:fs";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionTime {
  /** "functionName file:line" */
  key: string;
  name: string;
  location: string;
  /** Ours: a file under src/ of this repository. */
  ours: boolean;
  selfMs: number;
  totalMs: number;
}

export interface ProfileSummary {
  /** Sampled wall time, ms. */
  sampledMs: number;
  /** Time not idle: what the process actually spent working. */
  busyMs: number;
  idleMs: number;
  gcMs: number;
  /** Self time in our src/ files, in node:/V8 internals and in node_modules. */
  selfByOrigin: { ours: number; nodeModules: number; runtime: number };
  functions: FunctionTime[];
  /** For native functions (no script url: writev, ...), self time by the nearest JS caller with a file:line. */
  nativeCallers: Record<string, Record<string, number>>;
}

const SPECIAL = new Set(["(idle)", "(program)", "(garbage collector)", "(root)"]);

/** "file:///repo/src/proxy/x.ts" -> "src/proxy/x.ts"; node internals keep their "node:" name. */
/** A sidecar's profile over one load, as the reports print it. */
export interface SidecarProfile {
  sidecar: string;
  load: string;
  requests: number;
  summary: Omit<ProfileSummary, "functions" | "nativeCallers">;
  topSelf: FunctionTime[];
  topOursTotal: FunctionTime[];
  /** Who calls the native functions (writev, ...) that top the self-time list. */
  nativeCallers: { native: string; callers: { caller: string; ms: number }[] }[];
}

export function shortUrl(url: string, repoRoot: string): string {
  let u = url.startsWith("file://") ? decodeURIComponent(url.slice(7)) : url;
  if (u.startsWith(repoRoot)) u = u.slice(repoRoot.length).replace(/^\/+/, "");
  const nm = u.lastIndexOf("node_modules/");
  return nm >= 0 ? u.slice(nm) : u;
}

/**
 * activeMarker: when given, only samples between the first and the last sample whose stack
 * holds a frame from a url containing it count (cuts start-up and shutdown out of the profile).
 */
export function summariseProfile(profile: CpuProfile, repoRoot: string, activeMarker?: string): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const keyOf = new Map<number, FunctionTime>();
  const table = new Map<string, FunctionTime>();
  for (const n of profile.nodes) {
    const cf = n.callFrame;
    const name = cf.functionName || "(anonymous)";
    const location = cf.url ? `${shortUrl(cf.url, repoRoot)}:${cf.lineNumber + 1}` : "";
    const key = location ? `${name} ${location}` : name;
    let ft = table.get(key);
    if (!ft) {
      ft = { key, name, location, ours: location.startsWith("src/"), selfMs: 0, totalMs: 0 };
      table.set(key, ft);
    }
    keyOf.set(n.id, ft);
  }
  // Sample i lasts until sample i+1 (the last one until endTime).
  const stamps: number[] = [];
  let t = profile.startTime;
  for (const d of profile.timeDeltas) stamps.push((t += d));
  let first = 0;
  let last = profile.samples.length - 1;
  if (activeMarker) {
    const marked = (i: number): boolean => {
      for (let id: number | undefined = profile.samples[i]; id !== undefined; id = parent.get(id)) {
        if (byId.get(id)!.callFrame.url.includes(activeMarker)) return true;
      }
      return false;
    };
    while (first < last && !marked(first)) first++;
    while (last > first && !marked(last)) last--;
  }
  const endOf = (i: number): number => (i + 1 < stamps.length ? stamps[i + 1]! : profile.endTime);
  let idleMs = 0;
  let gcMs = 0;
  const origin = { ours: 0, nodeModules: 0, runtime: 0 };
  const nativeCallers: Record<string, Record<string, number>> = {};
  for (let i = first; i <= last; i++) {
    const ms = (endOf(i) - stamps[i]!) / 1000;
    if (ms <= 0) continue;
    const top = keyOf.get(profile.samples[i]!)!;
    top.selfMs += ms;
    if (top.name === "(idle)") idleMs += ms;
    else if (top.name === "(garbage collector)") gcMs += ms;
    if (top.name !== "(idle)") {
      if (top.ours) origin.ours += ms;
      else if (top.location.startsWith("node_modules/")) origin.nodeModules += ms;
      else origin.runtime += ms;
    }
    if (!top.location && !SPECIAL.has(top.name)) {
      let caller = "(none)";
      for (let id = parent.get(profile.samples[i]!); id !== undefined; id = parent.get(id)) {
        const ft = keyOf.get(id)!;
        if (ft.location) {
          caller = ft.key;
          break;
        }
      }
      const callers = (nativeCallers[top.name] ??= {});
      callers[caller] = (callers[caller] ?? 0) + ms;
    }
    const seen = new Set<FunctionTime>();
    for (let id: number | undefined = profile.samples[i]; id !== undefined; id = parent.get(id)) {
      const ft = keyOf.get(id)!;
      if (!seen.has(ft)) {
        seen.add(ft);
        ft.totalMs += ms;
      }
    }
  }
  const sampledMs = profile.samples.length ? (endOf(last) - stamps[first]!) / 1000 : 0;
  const functions = [...table.values()].filter((f) => f.selfMs > 0 || f.totalMs > 0);
  return { sampledMs, busyMs: sampledMs - idleMs, idleMs, gcMs, selfByOrigin: origin, functions, nativeCallers };
}

export function readProfile(path: string, repoRoot: string, activeMarker?: string): ProfileSummary {
  return summariseProfile(JSON.parse(readFileSync(path, "utf8")) as CpuProfile, repoRoot, activeMarker);
}

/** The n functions with the most self time, idle excluded. */
export function topSelf(s: ProfileSummary, n: number): FunctionTime[] {
  return s.functions.filter((f) => f.name !== "(idle)" && f.selfMs > 0).sort((a, b) => b.selfMs - a.selfMs).slice(0, n);
}

/** Our own functions (src/) by total time: where the proxy's code spends, callees included. */
export function topOursTotal(s: ProfileSummary, n: number): FunctionTime[] {
  return s.functions.filter((f) => f.ours && !SPECIAL.has(f.name)).sort((a, b) => b.totalMs - a.totalMs).slice(0, n);
}

/** The n biggest callers of a native function, with their share of its self time. */
export function topCallers(s: ProfileSummary, native: string, n: number): { caller: string; ms: number }[] {
  return Object.entries(s.nativeCallers[native] ?? {}).map(([caller, ms]) => ({ caller, ms })).sort((a, b) => b.ms - a.ms).slice(0, n);
}
