// The Istio config that applies to the selection (VirtualServices, DestinationRules, policies),
// rejected objects first: that is what the operator needs to see.
import type { ConfigEntry } from "../api/types.ts";
import { ConfigItem, isRejected } from "./ConfigItem.tsx";

export function ConfigList({ config }: { config: ConfigEntry[] }) {
  const sorted = [...config].sort((a, b) => Number(isRejected(b.state)) - Number(isRejected(a.state)));
  return (
    <section className="panel-section">
      <h3>Config that applies</h3>
      {sorted.length === 0 ? <p className="muted">No VirtualService, DestinationRule or policy applies: defaults are in force.</p> : null}
      <ul className="config-list">
        {sorted.map((c) => <ConfigItem key={`${c.kind}/${c.namespace}/${c.name}/${c.where}`} entry={c} />)}
      </ul>
    </section>
  );
}
