// The side panel for the selected node or edge: live numbers, response codes and flags, the
// config that applies (with validation messages), endpoints and hints. Refreshed every 2 s.
import { useCallback } from "react";
import { ApiError, fetchDetails } from "../api/client.ts";
import type { Selection } from "../api/types.ts";
import { usePoll } from "../hooks/usePoll.ts";
import { ConfigList } from "./ConfigList.tsx";
import { EndpointList } from "./EndpointList.tsx";
import { NumbersGrid } from "./NumbersGrid.tsx";
import { RateList } from "./RateList.tsx";

interface Props {
  selection: Selection;
  onClose: () => void;
}

export function DetailsPanel({ selection, onClose }: Props) {
  const fetcher = useCallback((signal: AbortSignal) => fetchDetails(selection, signal), [selection]);
  const { data, error, loading } = usePoll(fetcher, 2000, `${selection.type}:${selection.id}`);
  const gone = error instanceof ApiError && error.status === 404;

  return (
    <aside className="details" data-testid="details-panel" data-selection-type={selection.type} data-selection-id={selection.id} aria-label="details">
      <div className="details-head">
        <div>
          <div className="details-kind">{data?.kind ?? selection.type}</div>
          <h2 data-testid="details-title">{data?.title ?? selection.id}</h2>
        </div>
        <button type="button" className="close" onClick={onClose} aria-label="close details">×</button>
      </div>
      {loading && !data ? <p className="muted">Loading…</p> : null}
      {gone ? <p className="warn-text">This {selection.type} is no longer in the graph.</p> : null}
      {error && !gone ? <p className="warn-text">Could not load details: {error.message}</p> : null}
      {data ? (
        <>
          <NumbersGrid numbers={data.numbers} />
          <RateList title="Response codes" rates={data.numbers.responseCodes} kind="code" />
          <RateList title="Response flags" rates={data.numbers.flags} kind="flag" />
          <ConfigList config={data.config} />
          <EndpointList endpoints={data.endpoints} />
          {data.hints.length > 0 ? (
            <section className="panel-section">
              <h3>Hints</h3>
              <ul className="hints">
                {data.hints.map((h, i) => <li key={i} data-testid="hint">{h}</li>)}
              </ul>
            </section>
          ) : null}
        </>
      ) : null}
    </aside>
  );
}
