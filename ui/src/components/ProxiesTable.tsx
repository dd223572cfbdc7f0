// Every connected sidecar with its sync state per xDS type (like `mizzen proxy-status`).
// Problems sort first: a NACKed or stale proxy is what an operator looks for here.
import { XDS_TYPES, type ProxyStatus } from "../api/types.ts";
import { formatDuration } from "../format.ts";
import { SyncBadge } from "./SyncBadge.tsx";

interface Props {
  proxies: ProxyStatus[] | undefined;
  error: Error | undefined;
}

function severity(p: ProxyStatus): number {
  const states = Object.values(p.types);
  return states.includes("NACKED") ? 2 : states.includes("STALE") ? 1 : 0;
}

export function ProxiesTable({ proxies, error }: Props) {
  const rows = [...(proxies ?? [])].sort((a, b) => severity(b) - severity(a) || `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
  return (
    <section className="proxies" aria-label="proxies">
      <h2>
        Proxies <span className="count">{proxies ? proxies.length : "…"}</span>
      </h2>
      {error && !proxies ? <p className="warn-text">Could not load proxies: {error.message}</p> : null}
      {proxies && proxies.length === 0 ? <p className="muted">No sidecar is connected to the control plane.</p> : null}
      {rows.length > 0 ? (
        <table className="proxies-table" data-testid="proxies-table">
          <thead>
            <tr>
              <th scope="col">proxy</th>
              {XDS_TYPES.map((t) => <th key={t} scope="col">{t}</th>)}
              <th scope="col">health</th>
              <th scope="col">connected</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((p) => (
              <tr key={p.id} data-testid="proxy-row" data-proxy-id={p.id} data-name={p.name} data-namespace={p.namespace}>
                <th scope="row">
                  <div className="proxy-name">{p.name}<span className="muted">.{p.namespace}</span></div>
                  <div className="proxy-id" title={p.id}>{p.id}</div>
                </th>
                {XDS_TYPES.map((t) => <td key={t}><SyncBadge type={t} state={p.types[t]} /></td>)}
                <td className={`proxy-health ${p.health.toLowerCase() === "healthy" ? "good" : "warn"}`}>{p.health.toLowerCase()}</td>
                <td>{formatDuration(p.connectedFor)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}
