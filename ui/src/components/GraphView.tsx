// The live service graph: SVG laid out by dagre (left to right), scaled to fit its panel or
// zoomed by the operator. The layout is kept between polls unless the topology changes.
import { useRef, useState } from "react";
import type { Selection } from "../api/types.ts";
import type { DrawableGraph } from "../graph/normalize.ts";
import { splinePath } from "../graph/curve.ts";
import { useStableLayout } from "../graph/useStableLayout.ts";
import { useElementSize } from "../hooks/useElementSize.ts";
import { ArrowMarkers } from "./ArrowMarkers.tsx";
import { GraphEdgeView } from "./GraphEdgeView.tsx";
import { GraphNodeView } from "./GraphNodeView.tsx";
import { ZoomControls, type Zoom } from "./ZoomControls.tsx";

interface Props {
  graph: DrawableGraph;
  selection: Selection | undefined;
  onSelect: (sel: Selection | undefined) => void;
}

/** Fit never blows a small graph up beyond this, so text keeps its designed size... */
const MAX_FIT_SCALE = 1.15;
/** ...nor shrinks a large one below this: past it the panel scrolls instead. */
const MIN_FIT_SCALE = 0.7;
const MIN_HEIGHT = 300;

export function GraphView({ graph, selection, onSelect }: Props) {
  const layout = useStableLayout(graph.nodes, graph.edges);
  const scrollRef = useRef<HTMLDivElement>(null);
  const size = useElementSize(scrollRef);
  const [zoom, setZoom] = useState<Zoom>("fit");

  // The panel grows with the graph up to most of the window, so a small mesh leaves no blank
  // box and a big one scrolls; "fit" scales to the width, or the height once that is capped.
  const maxHeight = Math.max(MIN_HEIGHT, Math.round(window.innerHeight * 0.7));
  const fitScale = layout.width > 0 && size.width > 0
    ? Math.max(MIN_FIT_SCALE, Math.min(MAX_FIT_SCALE, (size.width - 4) / layout.width, (maxHeight - 8) / layout.height))
    : 1;
  const scale = zoom === "fit" ? fitScale : zoom;

  const height = Math.min(maxHeight, Math.max(MIN_HEIGHT, Math.ceil(layout.height * scale) + 8));
  const isSelected = (type: Selection["type"], id: string) => selection?.type === type && selection.id === id;
  // Selected things are drawn last so their outline is on top.
  const edges = [...graph.edges].sort((a, b) => Number(isSelected("edge", a.id)) - Number(isSelected("edge", b.id)));

  return (
    <div className="graph-view">
      <ZoomControls zoom={zoom} effectiveScale={scale} onZoom={setZoom} />
      <div className="graph-scroll" ref={scrollRef} style={{ height }} onClick={() => onSelect(undefined)}>
        {graph.nodes.length === 0 ? (
          <p className="graph-empty">No services or workloads yet: start a mesh (mizzen up) and send it some traffic.</p>
        ) : (
          <svg
            className="graph-svg"
            data-testid="service-graph"
            role="group"
            aria-label="service graph"
            width={Math.ceil(layout.width * scale)}
            height={Math.ceil(layout.height * scale)}
            viewBox={`0 0 ${layout.width} ${layout.height}`}
          >
            <ArrowMarkers />
            <g className="inferred-links" aria-hidden="true">
              {layout.links.map((l) => <path key={l.id} className="inferred-link" d={splinePath(l.points)} data-source={l.source} data-target={l.target} />)}
            </g>
            <g className="edges">
              {edges.map((e) => {
                const route = layout.edges.get(e.id);
                return route ? <GraphEdgeView key={e.id} edge={e} route={route} selected={isSelected("edge", e.id)} onSelect={(id) => onSelect({ type: "edge", id })} /> : null;
              })}
            </g>
            <g className="nodes">
              {graph.nodes.map((n) => {
                const box = layout.nodes.get(n.id);
                return box ? <GraphNodeView key={n.id} node={n} box={box} selected={isSelected("node", n.id)} onSelect={(id) => onSelect({ type: "node", id })} /> : null;
              })}
            </g>
          </svg>
        )}
      </div>
    </div>
  );
}
