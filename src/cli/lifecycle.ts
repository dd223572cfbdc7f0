// Process lifecycle shared by the long-running subcommands: stop cleanly on SIGINT/SIGTERM,
// and exit when the parent (the local runner) is gone so no orphan outlives `mizzen up`.

export function runUntilSignal(name: string, close: () => Promise<void>, parentPid?: number): void {
  let closing = false;
  const stop = (why: string) => {
    if (closing) return;
    closing = true;
    process.stderr.write(`${name}: stopping (${why})\n`);
    const force = setTimeout(() => process.exit(1), 5000);
    force.unref();
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`${name}: error while stopping: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  if (parentPid) {
    const timer = setInterval(() => {
      try {
        process.kill(parentPid, 0);
      } catch {
        stop(`parent ${parentPid} exited`);
      }
    }, 500);
    timer.unref();
  }
}
