// The title bar with a live indicator: when the graph was last refreshed, and the scrape size.
import { formatDuration } from "../format.ts";

interface Props {
  lastOk: number | undefined;
  now: number;
  failing: boolean;
  proxies: number | undefined;
  /** The graph's own timestamp, exposed for scripts: it changes on every poll. */
  generatedAt: number | undefined;
}

export function Header({ lastOk, now, failing, proxies, generatedAt }: Props) {
  const state = failing ? "offline" : lastOk ? "live" : "connecting";
  return (
    <header className="header">
      <h1>
        <span className="brand">Mizzen</span> mesh dashboard
      </h1>
      <div className={`live live-${state}`} data-testid="live-status" data-state={state} data-generated-at={generatedAt ?? ""}>
        <span className="live-dot" aria-hidden="true" />
        {state === "live" ? "live" : state === "offline" ? "offline" : "connecting…"}
        {lastOk ? <span className="live-age"> · updated {formatDuration(Math.max(0, (now - lastOk) / 1000))} ago</span> : null}
        {proxies !== undefined ? <span className="live-age"> · {proxies} sidecar{proxies === 1 ? "" : "s"} scraped</span> : null}
      </div>
    </header>
  );
}
