// Reads what the kernel knows about a process: CPU time (utime+stime from /proc/<pid>/stat)
// and memory (VmRSS, VmHWM, RssAnon, RssFile from /proc/<pid>/status; Pss from
// /proc/<pid>/smaps_rollup). Linux only, like the rest of bench/.
import { readFileSync, readdirSync } from "node:fs";
import { execFileSync } from "node:child_process";

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticksPerSecond = 100; // the value on every common Linux build
    }
  }
  return ticksPerSecond;
}

/** CPU seconds in user space and in the kernel so far, and context switches (both kinds). */
export interface CpuSplit {
  userS: number;
  systemS: number;
  /** Switches because the process waited (for I/O, a lock, an empty event loop). */
  voluntarySwitches: number;
  /** Switches because the scheduler took the CPU away. */
  involuntarySwitches: number;
}

export function cpuSplit(pid: number): CpuSplit {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may hold spaces; fields after its closing ")" are fixed.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const count = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? NaN);
  // rest[0] is field 3 (state), so utime (field 14) is rest[11] and stime (field 15) rest[12].
  return {
    userS: Number(rest[11]) / clockTicks(),
    systemS: Number(rest[12]) / clockTicks(),
    voluntarySwitches: count("voluntary_ctxt_switches"),
    involuntarySwitches: count("nonvoluntary_ctxt_switches"),
  };
}

/** CPU seconds (user + system) by thread name, summed over threads of the same name (Node: MainThread, V8Worker...). */
export function threadCpuSeconds(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    out[name] = (out[name] ?? 0) + (Number(rest[11]) + Number(rest[12])) / clockTicks();
  }
  return out;
}

/** User + system CPU seconds the process has used so far. */
export function cpuSeconds(pid: number): number {
  const c = cpuSplit(pid);
  return c.userS + c.systemS;
}

export interface MemoryKb {
  rssKb: number;
  hwmKb: number;
  /**
   * The process's private resident memory (RssAnon): what one more sidecar costs a host. The
   * rest of VmRSS is file-backed (RssFile: the node binary's and libraries' pages), shared by
   * every process running the same binary. Absent in results written before it was recorded.
   */
  anonKb?: number;
  /** Proportional set size: private pages plus this process's share of shared ones. */
  pssKb?: number;
}

function kbField(text: string, name: string): number {
  const m = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text);
  return m ? Number(m[1]) : NaN;
}

/** Resident memory now and its high-water mark, private memory and PSS, in KiB. */
export function memoryKb(pid: number): MemoryKb {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  let pssKb = NaN;
  try {
    pssKb = kbField(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"), "Pss");
  } catch {
    // older kernels have no smaps_rollup: PSS stays unknown
  }
  return { rssKb: kbField(status, "VmRSS"), hwmKb: kbField(status, "VmHWM"), anonKb: kbField(status, "RssAnon"), pssKb };
}

/** Machine facts for the report header. */
export function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    return m?.[1]?.trim() ?? "unknown";
  } catch {
    return "unknown";
  }
}

export interface IoCounts {
  /** read-family system calls (read, readv, ...) so far. */
  readCalls: number;
  /** write-family system calls (write, writev, ...) so far. */
  writeCalls: number;
}

/** System-call counters from /proc/<pid>/io: how many reads and writes a request costs. */
export function ioCounts(pid: number): IoCounts {
  const io = readFileSync(`/proc/${pid}/io`, "utf8");
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(io)?.[1] ?? NaN);
  return { readCalls: field("syscr"), writeCalls: field("syscw") };
}
