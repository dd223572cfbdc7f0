// One node of the service graph: workloads are rounded rectangles, services hexagons, traffic
// from outside the mesh a dashed pill. The outline colour is the node's health.
import type { KeyboardEvent } from "react";
import type { GraphNode } from "../api/types.ts";
import { formatPercent, formatRps, nodeSubtitle, shortName } from "../format.ts";
import { SERVICE_TIP, type NodeBox } from "../graph/layout.ts";

interface Props {
  node: GraphNode;
  box: NodeBox;
  selected: boolean;
  onSelect: (id: string) => void;
}

function shape(node: GraphNode, w: number, h: number) {
  const x0 = -w / 2;
  const y0 = -h / 2;
  if (node.kind === "service") {
    const tip = SERVICE_TIP;
    const pts = [
      [x0 + tip, y0], [x0 + w - tip, y0], [x0 + w, 0],
      [x0 + w - tip, y0 + h], [x0 + tip, y0 + h], [x0, 0],
    ].map(([x, y]) => `${x},${y}`).join(" ");
    return <polygon className="node-shape" points={pts} />;
  }
  const rx = node.kind === "unknown" ? h / 2 : 8;
  return <rect className="node-shape" x={x0} y={y0} width={w} height={h} rx={rx} />;
}

export function GraphNodeView({ node, box, selected, onSelect }: Props) {
  const label = `${node.kind} ${shortName(node)}: ${node.health}, ${formatRps(node.rps)} requests per second, ${formatPercent(node.errorRate)} errors`;
  const onKey = (e: KeyboardEvent) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      onSelect(node.id);
    }
  };
  return (
    <g
      className={`node node-${node.kind} health-${node.health}${selected ? " selected" : ""}`}
      transform={`translate(${box.x},${box.y})`}
      role="button"
      tabIndex={0}
      aria-pressed={selected}
      aria-label={label}
      data-testid="graph-node"
      data-node-id={node.id}
      data-kind={node.kind}
      data-health={node.health}
      data-rps={node.rps}
      data-error-rate={node.errorRate}
      onClick={(e) => {
        e.stopPropagation();
        onSelect(node.id);
      }}
      onKeyDown={onKey}
    >
      <title>{label}</title>
      {shape(node, box.width, box.height)}
      <text className="node-name" y={-3} textAnchor="middle">{shortName(node)}</text>
      <text className="node-sub" y={13} textAnchor="middle">{nodeSubtitle(node)}</text>
      {node.proxy && !node.proxy.synced ? (
        <circle className="node-unsynced" cx={box.width / 2 - 7} cy={-box.height / 2 + 7} r={4}>
          <title>sidecar not in sync with the control plane</title>
        </circle>
      ) : null}
    </g>
  );
}
