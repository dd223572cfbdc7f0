// Probes the sidecar's own application the way a Kubernetes tcpSocket readiness probe does:
// the app is healthy when every port it declares accepts a TCP connection. The sidecar
// reports the result to the control plane (Istio's HealthInformation), which keeps the
// workload's endpoints unhealthy until then: traffic never reaches an app that is not
// listening yet, or that has died.
//
// It probes often (200 ms) until the app first comes up, so start-up is quick to notice,
// then at a calmer pace (1 s). It tells its listener only about changes.
import net from "node:net";

export interface AppProberOptions {
  /** Where the application listens (the node's appAddress). */
  host: string;
  /** The application's ports (the node's containerPorts). None: healthy without probing. */
  ports: number[];
  /** Called with the first result and then on every change. */
  onChange(healthy: boolean, message: string | undefined): void;
  /** Probe interval until the first success (default 200 ms). */
  startupIntervalMs?: number;
  /** Probe interval after the first success (default 1000 ms). */
  intervalMs?: number;
  /** Bound on one connection attempt (default 1000 ms). */
  connectTimeoutMs?: number;
}

export interface ProbeResult {
  healthy: boolean;
  /** The first failing port's reason, e.g. "127.10.2.1:8080: connection refused (ECONNREFUSED)". */
  message?: string;
}

function reason(err: NodeJS.ErrnoException): string {
  if (err.code === "ECONNREFUSED") return "connection refused (ECONNREFUSED); is the application listening?";
  return err.code ? `${err.message} (${err.code})` : err.message;
}

/** One TCP connect to host:port, bounded by timeoutMs; resolves with an error text or undefined. */
export function probePort(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const where = `${host.includes(":") ? `[${host}]` : host}:${port}`;
    let done = false;
    const finish = (problem: string | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(problem === undefined ? undefined : `${where}: ${problem}`);
    };
    const sock = net.connect({ host, port });
    const timer = setTimeout(() => finish(`no connection within ${timeoutMs} ms`), timeoutMs);
    sock.once("connect", () => finish(undefined));
    sock.once("error", (err: NodeJS.ErrnoException) => finish(reason(err)));
  });
}

/** Probes every port at once; healthy when all accept. */
export async function probeAll(host: string, ports: readonly number[], timeoutMs: number): Promise<ProbeResult> {
  const problems = await Promise.all(ports.map((p) => probePort(host, p, timeoutMs)));
  const first = problems.find((p) => p !== undefined);
  return first === undefined ? { healthy: true } : { healthy: false, message: first };
}

export class AppProber {
  private readonly opts: AppProberOptions;
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private last: ProbeResult | undefined;
  private everHealthy = false;

  constructor(opts: AppProberOptions) {
    this.opts = opts;
  }

  /** The last result; undefined before the first probe finished. */
  get current(): ProbeResult | undefined {
    return this.last;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    if (this.opts.ports.length === 0) {
      this.settle({ healthy: true }); // nothing to probe: an app without ports serves no one
      return;
    }
    void this.tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    const result = await probeAll(this.opts.host, this.opts.ports, this.opts.connectTimeoutMs ?? 1000);
    if (this.stopped) return;
    this.settle(result);
    if (result.healthy) this.everHealthy = true;
    const every = this.everHealthy ? (this.opts.intervalMs ?? 1000) : (this.opts.startupIntervalMs ?? 200);
    // The next probe starts after this one finished, so probes never pile up.
    this.timer = setTimeout(() => void this.tick(), every);
    this.timer.unref();
  }

  private settle(result: ProbeResult): void {
    const before = this.last;
    this.last = result;
    if (before && before.healthy === result.healthy && before.message === result.message) return;
    try {
      this.opts.onChange(result.healthy, result.message);
    } catch {
      // the listener's problem; probing goes on
    }
  }
}
