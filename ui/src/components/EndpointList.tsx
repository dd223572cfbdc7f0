// The endpoints behind a service, with their health as the control plane sends it in EDS.
import type { DetailsResponse } from "../api/types.ts";

export function EndpointList({ endpoints }: { endpoints: DetailsResponse["endpoints"] }) {
  if (!endpoints) return null;
  return (
    <section className="panel-section">
      <h3>Endpoints</h3>
      {endpoints.length === 0 ? <p className="warn-text">No endpoints: requests get 503 with flag UH or NR.</p> : null}
      <table className="endpoints">
        <tbody>
          {endpoints.map((e) => (
            <tr key={e.address} data-testid="endpoint-row" data-healthy={e.healthy ? "true" : "false"}>
              <td><span className={`dot ${e.healthy ? "health-healthy" : "health-failing"}`} aria-hidden="true" />{e.healthy ? "healthy" : "unhealthy"}</td>
              <td><code>{e.address}</code></td>
              <td>{e.workload}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
