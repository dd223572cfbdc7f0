// One Istio object in the side panel: kind, name, verdict, file:line, and its messages. A
// rejected object is red with its validation messages in full, since that is usually why
// traffic is not doing what was meant.
import type { ConfigEntry } from "../api/types.ts";

/** "rejected" and "rejected-kept-last-good" both mean the file on disk is not in force. */
export function isRejected(state: string): boolean {
  return state.toLowerCase().startsWith("rejected");
}

function stateClass(state: string): string {
  return state.toLowerCase() === "accepted" ? "state-ok" : isRejected(state) ? "state-bad" : "state-warn";
}

/** The badge says the verdict; the rest of a compound state ("-kept-last-good") is a note. */
function splitState(state: string): { badge: string; note: string } {
  const at = state.indexOf("-");
  if (at <= 0) return { badge: state, note: "" };
  const rest = state.slice(at + 1).replace(/-/g, " ");
  return { badge: state.slice(0, at), note: rest === "kept last good" ? "the last good version stays in force" : rest };
}

export function ConfigItem({ entry }: { entry: ConfigEntry }) {
  const { badge, note } = splitState(entry.state);
  const rejected = isRejected(entry.state);
  return (
    <li
      className={`config-item ${stateClass(entry.state)}`}
      data-testid="config-item"
      data-kind={entry.kind}
      data-name={entry.name}
      data-namespace={entry.namespace}
      data-state={entry.state}
    >
      <div className="config-head">
        <span className="config-kind">{entry.kind}</span>
        <span className={`config-state ${stateClass(entry.state)}`} title={entry.state}>{badge}</span>
      </div>
      {note ? <div className="config-note">{note}</div> : null}
      <div className="config-name">
        {entry.namespace ? `${entry.namespace}/` : ""}
        {entry.name}
      </div>
      {entry.where ? <div className="config-where"><code>{entry.where}</code></div> : null}
      {entry.messages.length > 0 ? (
        <ul className={`config-messages${rejected ? " rejected" : ""}`} role={rejected ? "alert" : undefined}>
          {entry.messages.map((m, i) => <li key={i}>{m}</li>)}
        </ul>
      ) : null}
    </li>
  );
}
