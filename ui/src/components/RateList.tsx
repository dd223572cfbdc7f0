// Response codes or response flags with their rates, largest first, as a compact bar list.
import { formatRps } from "../format.ts";

interface Props {
  title: string;
  rates: Record<string, number> | undefined;
  kind: "code" | "flag";
}

function codeClass(code: string): string {
  const c = code.charAt(0);
  return c === "2" ? "code-2xx" : c === "3" ? "code-3xx" : c === "4" ? "code-4xx" : c === "5" ? "code-5xx" : "code-other";
}

export function RateList({ title, rates, kind }: Props) {
  const entries = Object.entries(rates ?? {}).filter(([, v]) => Number.isFinite(v)).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) return null;
  const total = entries.reduce((s, [, v]) => s + v, 0) || 1;
  return (
    <section className="panel-section">
      <h3>{title}</h3>
      <ul className="rate-list" data-testid={kind === "code" ? "response-codes" : "response-flags"}>
        {entries.map(([key, rps]) => (
          <li key={key} data-key={key} data-rps={rps}>
            <span className={`rate-key ${kind === "code" ? codeClass(key) : "flag"}`}>{key}</span>
            <span className="rate-bar"><span style={{ width: `${Math.max(2, (rps / total) * 100)}%` }} /></span>
            <span className="rate-value">{formatRps(rps)}/s</span>
          </li>
        ))}
      </ul>
    </section>
  );
}
