// Arrowheads for edges, one per health colour (SVG markers cannot inherit the line colour).
import type { Health } from "../api/types.ts";

const HEALTHS: Health[] = ["healthy", "degraded", "failing", "idle"];

export function ArrowMarkers() {
  return (
    <defs>
      {HEALTHS.map((h) => (
        <marker key={h} id={`arrow-${h}`} className={`arrow health-${h}`} viewBox="0 0 10 10" refX={9} refY={5} markerWidth={7} markerHeight={7} markerUnits="userSpaceOnUse" orient="auto-start-reverse">
          <path d="M0,0 L10,5 L0,10 z" />
        </marker>
      ))}
    </defs>
  );
}
