// The whole page: header, alerts, the graph with its side panel, and the proxies table.
// Graph and proxies are polled every 2 s; the selection survives polls (and is dropped with
// Escape, the close button or a click on the empty graph).
import { useEffect, useMemo, useState } from "react";
import { fetchGraph, fetchProxies } from "../api/client.ts";
import type { Selection } from "../api/types.ts";
import { normalizeGraph } from "../graph/normalize.ts";
import { useNow } from "../hooks/useNow.ts";
import { usePoll } from "../hooks/usePoll.ts";
import { Banner } from "./Banner.tsx";
import { DetailsPanel } from "./DetailsPanel.tsx";
import { GraphView } from "./GraphView.tsx";
import { Header } from "./Header.tsx";
import { Legend } from "./Legend.tsx";
import { ProxiesTable } from "./ProxiesTable.tsx";

const POLL_MS = 2000;

export function App() {
  const graph = usePoll(fetchGraph, POLL_MS);
  const proxies = usePoll(fetchProxies, POLL_MS);
  const now = useNow();
  const [selection, setSelection] = useState<Selection | undefined>();
  const drawable = useMemo(() => normalizeGraph(graph.data), [graph.data]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== "Escape") return;
      setSelection(undefined);
      // Drop the focus ring too, or the last clicked node still looks selected.
      const focused = document.activeElement;
      if (focused instanceof HTMLElement || focused instanceof SVGElement) focused.blur();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  return (
    <div className="app">
      <Header lastOk={graph.lastOk} now={now} failing={graph.error !== undefined} proxies={graph.data?.scrape.proxies} generatedAt={graph.data?.generatedAt} />
      <Banner graphError={graph.error} proxiesError={proxies.error} lastOk={graph.lastOk} now={now} scrape={graph.data?.scrape} />
      <main className={`main${selection ? " with-details" : ""}`}>
        <section className={`graph-card${graph.error ? " stale" : ""}`} aria-label="service graph" aria-busy={graph.loading}>
          {graph.loading && !graph.data ? <p className="graph-empty">Loading the service graph…</p> : <GraphView graph={drawable} selection={selection} onSelect={setSelection} />}
          <Legend windowSeconds={graph.data?.windowSeconds} />
        </section>
        {selection ? <DetailsPanel key={`${selection.type}:${selection.id}`} selection={selection} onClose={() => setSelection(undefined)} /> : null}
      </main>
      <ProxiesTable proxies={proxies.data?.proxies} error={proxies.error} />
    </div>
  );
}
