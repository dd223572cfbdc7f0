// Fit / zoom buttons over the graph. "Fit" follows the panel's size; a zoom level is fixed.
export type Zoom = "fit" | number;

interface Props {
  zoom: Zoom;
  effectiveScale: number;
  onZoom: (z: Zoom) => void;
}

export function ZoomControls({ zoom, effectiveScale, onZoom }: Props) {
  const step = (factor: number) => onZoom(Math.min(3, Math.max(0.25, effectiveScale * factor)));
  return (
    <div className="zoom-controls" role="group" aria-label="zoom">
      <button type="button" onClick={() => step(1 / 1.2)} aria-label="zoom out">−</button>
      <span className="zoom-level" aria-live="polite">{Math.round(effectiveScale * 100)}%</span>
      <button type="button" onClick={() => step(1.2)} aria-label="zoom in">+</button>
      <button type="button" className={zoom === "fit" ? "active" : ""} onClick={() => onZoom("fit")}>Fit</button>
      <button type="button" className={zoom === 1 ? "active" : ""} onClick={() => onZoom(1)}>100%</button>
    </div>
  );
}
