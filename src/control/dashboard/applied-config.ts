// Which config objects apply to one workload or one service, each with its validation state,
// file:line and messages from the store. Services: the shared describe model (VirtualServices
// and DestinationRules for the host, policies selecting its workloads). Workloads: the same
// selection rules the translators use (selector-keys.ts for the security kinds, the Sidecar
// and Telemetry selection of sidecar-scope.ts and telemetry.ts), so the panel shows what the
// proxy actually runs.
import type { ConfigObject } from "../../api/types.ts";
import type { ObjectStatus } from "../../config/store.ts";
import type { Registry, Service } from "../../registry/types.ts";
import type { MeshConfig } from "../../translate/mesh-config.ts";
import { appliesToWorkload } from "../../translate/selector-keys.ts";
import { selectSidecar } from "../../translate/sidecar-scope.ts";
import { levels as telemetryLevels } from "../../translate/telemetry.ts";
import { appliedConfig, describeFromData, type AppliedConfig, type Description } from "../describe-model.ts";
import type { ConfigEntry } from "./contract.ts";

export interface ConfigInput {
  /** The objects in force. */
  objects: readonly ConfigObject[];
  /** Every object's validation state, rejected ones included. */
  status: readonly ObjectStatus[];
  registry: Registry;
  mesh: MeshConfig;
}

export const SECURITY_KINDS = ["AuthorizationPolicy", "PeerAuthentication", "RequestAuthentication"] as const;
export type WorkloadKind = (typeof SECURITY_KINDS)[number] | "Sidecar" | "Telemetry";
export const WORKLOAD_KINDS: readonly WorkloadKind[] = [...SECURITY_KINDS, "Sidecar", "Telemetry"];

/** describe-model's "name.namespace" back into its parts (a namespace never holds a dot). */
export function entryOf(c: AppliedConfig): ConfigEntry {
  const dot = c.name.lastIndexOf(".");
  return { kind: c.kind, name: dot > 0 ? c.name.slice(0, dot) : c.name, namespace: dot > 0 ? c.name.slice(dot + 1) : "", state: c.state, where: c.where, messages: c.messages };
}


/** The describe model of a registry service; undefined for hosts the registry does not know. */
export function describeService(input: ConfigInput, hostname: string): Description | undefined {
  const s: Service | undefined = input.registry.services.get(hostname);
  if (!s) return undefined;
  return describeFromData({ objects: input.objects, status: input.status, registry: input.registry, rootNamespace: input.mesh.rootNamespace }, s.hostname, s.namespace);
}

/** VirtualServices, DestinationRules and the policies of the service's workloads. */
export function serviceConfig(d: Description | undefined, parts: { routing?: boolean; policies?: boolean } = {}): ConfigEntry[] {
  if (!d) return [];
  const out: ConfigEntry[] = [];
  if (parts.routing !== false) out.push(...d.virtualServices.map(entryOf), ...d.destinationRules.map(entryOf));
  if (parts.policies !== false) out.push(...d.policies.map(entryOf));
  return out;
}

/** The objects of `kinds` that apply to a workload with these labels in this namespace. */
export function workloadConfig(input: ConfigInput, workload: { namespace: string; labels: Readonly<Record<string, string>> }, kinds: readonly WorkloadKind[] = WORKLOAD_KINDS): ConfigEntry[] {
  const applying: ConfigObject[] = [];
  for (const kind of kinds) {
    if (kind === "Sidecar") {
      const sc = selectSidecar(input.objects, input.mesh.rootNamespace, workload);
      if (sc) applying.push(sc);
    } else if (kind === "Telemetry") {
      applying.push(...telemetryLevels(input.objects, workload, input.mesh));
    } else {
      applying.push(...input.objects.filter((o) => appliesToWorkload(o, kind, workload, input.mesh.rootNamespace)));
    }
  }
  const status = new Map(input.status.map((st) => [`${st.kind}/${st.namespace}/${st.name}`, st]));
  return applying.map((o) => {
    const st = status.get(`${o.kind}/${o.metadata.namespace}/${o.metadata.name}`);
    return st
      ? entryOf(appliedConfig(st))
      : { kind: o.kind, name: o.metadata.name, namespace: o.metadata.namespace, state: "accepted", where: `${o.source.file}:${o.source.line}`, messages: [] };
  });
}

/** Entries in order without repeats (one object can reach a panel two ways). */
export function uniqueEntries(list: readonly ConfigEntry[]): ConfigEntry[] {
  const seen = new Set<string>();
  return list.filter((c) => {
    const k = `${c.kind}/${c.namespace}/${c.name}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
