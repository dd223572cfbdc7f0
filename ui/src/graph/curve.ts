// A smooth SVG path through dagre's edge points: a uniform cubic B-spline, clamped so it
// starts at the first point and ends at the last (the node borders dagre computed).
import type { Point } from "./layout.ts";

export function splinePath(points: Point[]): string {
  if (points.length === 0) return "";
  const first = points[0]!;
  if (points.length === 1) return `M${first.x},${first.y}`;
  if (points.length === 2) return `M${first.x},${first.y}L${points[1]!.x},${points[1]!.y}`;
  const f = (n: number) => Math.round(n * 10) / 10;
  const parts = [`M${f(first.x)},${f(first.y)}`];
  // Control polygon p0..pn; each span between consecutive B-spline knots is one cubic.
  let a = points[0]!;
  let b = points[1]!;
  parts.push(`L${f((5 * a.x + b.x) / 6)},${f((5 * a.y + b.y) / 6)}`);
  for (let i = 2; i < points.length; i++) {
    const c = points[i]!;
    parts.push(cubic(a, b, c, f));
    a = b;
    b = c;
  }
  // Close the spline on the last point (the end clamp).
  parts.push(cubic(a, b, b, f));
  parts.push(`L${f(b.x)},${f(b.y)}`);
  return parts.join("");
}

function cubic(a: Point, b: Point, c: Point, f: (n: number) => number): string {
  const c1x = (2 * a.x + b.x) / 3;
  const c1y = (2 * a.y + b.y) / 3;
  const c2x = (a.x + 2 * b.x) / 3;
  const c2y = (a.y + 2 * b.y) / 3;
  const ex = (a.x + 4 * b.x + c.x) / 6;
  const ey = (a.y + 4 * b.y + c.y) / 6;
  return `C${f(c1x)},${f(c1y)},${f(c2x)},${f(c2y)},${f(ex)},${f(ey)}`;
}
