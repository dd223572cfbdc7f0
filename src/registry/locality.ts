// Where a workload runs, Istio's way: "region/zone/subzone", from an explicit locality
// (WorkloadEntry.locality, ServiceEntry endpoint locality) or else from the topology labels
// Kubernetes and Istio put on nodes, which Mizzen reads from the workload's (or proxy's) own
// labels. Translators compare it with the proxy's locality for locality load balancing.

export const REGION_LABEL = "topology.kubernetes.io/region";
export const ZONE_LABEL = "topology.kubernetes.io/zone";
export const SUBZONE_LABEL = "topology.istio.io/subzone";

/** "region/zone/subzone" from the topology labels, trailing empty parts left out; undefined when none is set. */
export function localityFromLabels(labels: Readonly<Record<string, string>>): string | undefined {
  const parts = [labels[REGION_LABEL] ?? "", labels[ZONE_LABEL] ?? "", labels[SUBZONE_LABEL] ?? ""];
  while (parts.length > 0 && parts[parts.length - 1] === "") parts.pop();
  return parts.length > 0 ? parts.join("/") : undefined;
}

/** The three parts of a "region/zone/subzone" string (missing parts are ""). */
export function splitLocality(locality: string | undefined): { region: string; zone: string; subzone: string } {
  const [region = "", zone = "", subzone = ""] = (locality ?? "").split("/");
  return { region, zone, subzone };
}
