// Text widths for sizing nodes before layout. A canvas measures with the same fonts the
// stylesheet uses for node labels; without one (never in a browser) a per-character guess.
let ctx: CanvasRenderingContext2D | null | undefined;

export const NAME_FONT = "600 13px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
export const SUB_FONT = "11px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";

export function textWidth(text: string, font: string): number {
  if (ctx === undefined) {
    ctx = typeof document === "undefined" ? null : document.createElement("canvas").getContext("2d");
  }
  if (!ctx) return text.length * (font.startsWith("600 13px") ? 7.8 : 6.2);
  ctx.font = font;
  return ctx.measureText(text).width;
}
