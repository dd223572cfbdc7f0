// Markdown pieces the bench reports share: a table, and the rows of a profile's function list.
import type { FunctionTime } from "./cpuprofile.ts";

export function markdownTable(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

/** "#", function, where, ms (self or total, `digits` decimals), % of the busy time. */
export function profileFunctionRows(fns: FunctionTime[], busyMs: number, by: "self" | "total", digits: number): string[][] {
  return fns.map((f, i) => {
    const ms = by === "self" ? f.selfMs : f.totalMs;
    return [String(i + 1), `\`${f.name}\``, f.location ? `\`${f.location}\`` : "(native)", ms.toFixed(digits), `${((ms / busyMs) * 100).toFixed(1)}%`];
  });
}
