// Preloaded (node --import) into Node applications that `mizzen up` starts: if the runner dies
// without stopping them (SIGKILL, crash), the application exits instead of living on as an
// orphan holding its port. The sidecar and control plane get the same via --parent-pid.
const parent = Number(process.env.MIZZEN_PARENT_PID);

if (Number.isInteger(parent) && parent > 1) {
  const timer = setInterval(() => {
    try {
      process.kill(parent, 0);
    } catch {
      process.exit(0);
    }
  }, 1000);
  timer.unref();
}
