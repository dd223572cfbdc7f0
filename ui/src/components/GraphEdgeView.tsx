// One edge of the service graph: a curve from dagre's points with an arrowhead, its width
// growing with traffic, and a label box with rps, error share and p99 (a lock when mTLS).
// Every number is also in data-* attributes so tests and scripts can read them exactly.
import type { KeyboardEvent } from "react";
import type { GraphEdge } from "../api/types.ts";
import { formatBytesPerSecond, formatMs, formatPercent, formatRps } from "../format.ts";
import { splinePath } from "../graph/curve.ts";
import { EDGE_LABEL_HEIGHT, EDGE_LABEL_WIDTH, type EdgeRoute } from "../graph/layout.ts";
import { LockIcon } from "./LockIcon.tsx";

interface Props {
  edge: GraphEdge;
  route: EdgeRoute;
  selected: boolean;
  onSelect: (id: string) => void;
}

function strokeWidth(edge: GraphEdge): number {
  if (edge.health === "idle") return 1.25;
  return 1.5 + Math.min(3, Math.log10(1 + edge.rps) * 1.6);
}

/** Three short lines, so the label box stays narrow and the left-to-right graph compact. */
function labelLines(edge: GraphEdge): [string, string, string] {
  if (edge.protocol === "tcp" && edge.tcp) {
    const bytes = edge.tcp.sentBytesPerSecond + edge.tcp.receivedBytesPerSecond;
    return [formatBytesPerSecond(bytes), `${formatRps(edge.tcp.connectionsOpenedPerSecond)} conn/s`, "tcp"];
  }
  return [`${formatRps(edge.rps)} rps`, `err ${formatPercent(edge.errorRate)}`, `p99 ${formatMs(edge.p99Ms)}`];
}

export function GraphEdgeView({ edge, route, selected, onSelect }: Props) {
  const d = splinePath(route.points);
  const [line1, line2, line3] = labelLines(edge);
  const lx = route.labelX - EDGE_LABEL_WIDTH / 2;
  const ly = route.labelY - EDGE_LABEL_HEIGHT / 2;
  const label = `${edge.source} to ${edge.target}: ${line1}, ${line2}, ${line3}${edge.mtls ? ", mTLS" : ""}`;
  const select = () => onSelect(edge.id);
  const onKey = (e: KeyboardEvent) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      select();
    }
  };
  return (
    <g
      className={`edge health-${edge.health}${selected ? " selected" : ""}`}
      role="button"
      tabIndex={0}
      aria-pressed={selected}
      aria-label={label}
      data-testid="graph-edge"
      data-edge-id={edge.id}
      data-source={edge.source}
      data-target={edge.target}
      data-protocol={edge.protocol}
      data-health={edge.health}
      data-rps={edge.rps}
      data-error-rate={edge.errorRate}
      data-p99-ms={edge.p99Ms ?? ""}
      data-mtls={edge.mtls ? "true" : "false"}
      onClick={(e) => {
        e.stopPropagation();
        select();
      }}
      onKeyDown={onKey}
    >
      <title>{label}</title>
      <path className="edge-hit" d={d} />
      <path className="edge-line" d={d} strokeWidth={strokeWidth(edge)} markerEnd={`url(#arrow-${edge.health})`} />
      <g className="edge-label" transform={`translate(${lx},${ly})`}>
        <rect className="edge-label-box" width={EDGE_LABEL_WIDTH} height={EDGE_LABEL_HEIGHT} rx={6} />
        <text
          className="edge-label-text"
          x={7}
          y={15}
          data-testid="edge-label"
          data-rps={edge.rps}
          data-error-rate={edge.errorRate}
          data-p99-ms={edge.p99Ms ?? ""}
          data-mtls={edge.mtls ? "true" : "false"}
        >
          <tspan className="edge-rps">{line1}</tspan>
          <tspan className={`edge-sub${edge.errorRate > 0.001 ? " edge-err" : ""}`} x={7} dy={14}>{line2}</tspan>
          <tspan className="edge-sub" x={7} dy={14}>{line3}</tspan>
        </text>
        {edge.mtls ? <LockIcon x={EDGE_LABEL_WIDTH - 15} y={5} /> : null}
      </g>
    </g>
  );
}
