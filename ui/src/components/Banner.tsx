// The alerts above the graph: the control plane cannot be reached (the page keeps showing the
// last data it had, and says how old it is), or some sidecars could not be scraped.
import type { ScrapeStatus } from "../api/types.ts";
import { formatDuration } from "../format.ts";

interface Props {
  graphError: Error | undefined;
  proxiesError: Error | undefined;
  lastOk: number | undefined;
  now: number;
  scrape: ScrapeStatus | undefined;
}

export function Banner({ graphError, proxiesError, lastOk, now, scrape }: Props) {
  const error = graphError ?? proxiesError;
  const banners = [];
  if (error) {
    const age = lastOk ? `Showing data from ${formatDuration((now - lastOk) / 1000)} ago.` : "No data yet.";
    banners.push(
      <div key="down" className="banner banner-error" role="alert" data-testid="banner-unreachable">
        <strong>Control plane unreachable.</strong> {error.message}. {age} Retrying every 2 s.
      </div>,
    );
  }
  const failed = scrape?.failed ?? [];
  const total = Math.max(scrape?.proxies ?? 0, failed.length);
  if (!graphError && failed.length > 0) {
    const shown = failed.slice(0, 4);
    banners.push(
      <div key="scrape" className="banner banner-warning" role="alert" data-testid="banner-scrape">
        <strong>
          Metrics missing from {failed.length} of {total} sidecar{total === 1 ? "" : "s"}
        </strong>
        : the graph may under-count their traffic.
        <ul>
          {shown.map((f) => (
            <li key={f.proxy}>
              <code>{f.proxy}</code>: {f.error}
            </li>
          ))}
          {failed.length > shown.length ? <li>and {failed.length - shown.length} more</li> : null}
        </ul>
      </div>,
    );
  }
  return banners.length ? <div className="banners">{banners}</div> : null;
}
