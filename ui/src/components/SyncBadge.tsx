// One xDS type's sync state for one proxy, as istioctl proxy-status words it.
import type { SyncState } from "../api/types.ts";

const CLASS: Record<string, string> = { SYNCED: "sync-ok", STALE: "sync-stale", NACKED: "sync-nacked", "NOT SENT": "sync-none" };

export function SyncBadge({ type, state }: { type: string; state: SyncState | undefined }) {
  const s = state ?? "NOT SENT";
  return (
    <span className={`sync ${CLASS[s] ?? "sync-none"}`} data-testid="sync-state" data-type={type} data-state={s} title={`${type}: ${s}`}>
      {s}
    </span>
  );
}
