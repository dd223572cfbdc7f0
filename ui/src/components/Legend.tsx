// What the shapes and colours mean, under the graph.
export function Legend({ windowSeconds }: { windowSeconds: number | undefined }) {
  return (
    <div className="legend" aria-label="legend">
      <span className="legend-item"><svg width="22" height="14" aria-hidden="true"><rect className="legend-workload" x="1" y="1" width="20" height="12" rx="3" /></svg>workload</span>
      <span className="legend-item"><svg width="22" height="14" aria-hidden="true"><polygon className="legend-service" points="5,1 17,1 21,7 17,13 5,13 1,7" /></svg>service</span>
      <span className="legend-item"><span className="dot health-healthy" />healthy</span>
      <span className="legend-item"><span className="dot health-degraded" />degraded (errors &gt; 0.1%)</span>
      <span className="legend-item"><span className="dot health-failing" />failing (errors ≥ 20%)</span>
      <span className="legend-item"><span className="dot health-idle" />idle</span>
      <span className="legend-item"><svg width="12" height="14" aria-hidden="true" className="legend-lock"><path d="M3,6 V4.4 A2.6,2.6 0 0 1 8.2,4.4 V6" /><rect x="1.6" y="6" width="8" height="6.4" rx="1.2" /></svg>mTLS</span>
      {windowSeconds ? <span className="legend-window">rates over the last {windowSeconds} s</span> : null}
    </div>
  );
}
