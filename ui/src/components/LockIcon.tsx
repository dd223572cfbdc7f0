// A padlock drawn in SVG (no emoji font needed): marks mTLS traffic on an edge label.
interface Props {
  x: number;
  y: number;
}

export function LockIcon({ x, y }: Props) {
  return (
    <g className="lock" transform={`translate(${x},${y})`} data-testid="mtls-lock" aria-label="mTLS">
      <title>mutual TLS</title>
      <path className="lock-shackle" d="M2,5 V3.4 A2.6,2.6 0 0 1 7.2,3.4 V5" />
      <rect className="lock-body" x={0.6} y={5} width={8} height={6.4} rx={1.2} />
    </g>
  );
}
