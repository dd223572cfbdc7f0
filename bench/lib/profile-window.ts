// Cuts a V8 .cpuprofile down to a time window, so a profile of a sidecar started under
// --cpu-prof shows only the load and not its start-up (CSR, first config) or shutdown.
// V8 stamps samples with the monotonic clock in microseconds, the clock
// process.hrtime.bigint() reads in any process on the machine, so the benchmark can note the
// window's ends in its own process.

export interface CpuProfileJson {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Now on the monotonic clock V8 profiles use, µs. */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** The same profile with only the samples taken in [fromUs, toUs]; startTime is the first kept sample's stamp. */
export function profileWindow(p: CpuProfileJson, fromUs: number, toUs: number): CpuProfileJson {
  if (!(toUs > fromUs)) throw new Error(`empty profile window: ${fromUs} .. ${toUs}`);
  const samples: number[] = [];
  const timeDeltas: number[] = [];
  let t = p.startTime;
  let first = NaN;
  let previous = NaN;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i]!;
    if (t < fromUs || t > toUs) continue;
    if (Number.isNaN(first)) first = t;
    timeDeltas.push(Number.isNaN(previous) ? 0 : t - previous);
    samples.push(p.samples[i]!);
    previous = t;
  }
  return { nodes: p.nodes, startTime: Number.isNaN(first) ? fromUs : first, endTime: Math.min(toUs, p.endTime), samples, timeDeltas };
}
