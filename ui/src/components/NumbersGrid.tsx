// The headline numbers of the selected node or edge.
import type { DetailsResponse } from "../api/types.ts";
import { formatMs, formatPercent, formatRps } from "../format.ts";

export function NumbersGrid({ numbers }: { numbers: DetailsResponse["numbers"] }) {
  return (
    <dl className="numbers" data-testid="details-numbers">
      <div>
        <dt>requests/s</dt>
        <dd data-rps={numbers.rps}>{formatRps(numbers.rps)}</dd>
      </div>
      <div>
        <dt>errors (5xx)</dt>
        <dd className={numbers.errorRate >= 0.2 ? "bad" : numbers.errorRate > 0.001 ? "warn" : ""} data-error-rate={numbers.errorRate}>
          {formatPercent(numbers.errorRate)}
        </dd>
      </div>
      <div>
        <dt>p99 latency</dt>
        <dd data-p99-ms={numbers.p99Ms ?? ""}>{formatMs(numbers.p99Ms)}</dd>
      </div>
      {numbers.mtls !== undefined ? (
        <div>
          <dt>security</dt>
          <dd className={numbers.mtls ? "good" : "warn"} data-mtls={numbers.mtls ? "true" : "false"}>{numbers.mtls ? "mTLS" : "plaintext"}</dd>
        </div>
      ) : null}
    </dl>
  );
}
