// Weighted choice among routes' destinations (HTTP weighted_clusters, TCP weighted clusters)
// and the "host:port" text access logs use: one implementation for every listener kind.

/** Index of the entry a draw lands on; `random` returns [0, 1) (tests inject it). */
export function pickWeighted(entries: readonly { weight: number }[], totalWeight: number, random: () => number = Math.random): number {
  if (entries.length === 1) return 0;
  let r = random() * totalWeight;
  for (let i = 0; i < entries.length; i++) {
    r -= entries[i]!.weight;
    if (r < 0) return i;
  }
  return entries.length - 1;
}

/** "addr:port", "[v6]:port", or "-" when the address is unknown (Envoy's access-log form). */
export function hostPort(addr: string | undefined, port: number | undefined): string {
  if (!addr) return "-";
  return addr.includes(":") ? `[${addr}]:${port}` : `${addr}:${port}`;
}
