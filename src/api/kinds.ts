// Which apiVersions Mizzen accepts for each kind, and which generated schema model checks it.
// @kubernetes-models/istio is generated from Istio 1.18's CRDs: it has no networking v1 or
// telemetry v1 and security v1 lacks PeerAuthentication. Those newer versions carry the same
// schema as the older one they were promoted from, so they are checked with that model.
import { DestinationRule as DestinationRuleB1 } from "@kubernetes-models/istio/networking.istio.io/v1beta1/DestinationRule";
import { Gateway as GatewayB1 } from "@kubernetes-models/istio/networking.istio.io/v1beta1/Gateway";
import { ServiceEntry as ServiceEntryB1 } from "@kubernetes-models/istio/networking.istio.io/v1beta1/ServiceEntry";
import { Sidecar as SidecarB1 } from "@kubernetes-models/istio/networking.istio.io/v1beta1/Sidecar";
import { VirtualService as VirtualServiceB1 } from "@kubernetes-models/istio/networking.istio.io/v1beta1/VirtualService";
import { WorkloadEntry as WorkloadEntryB1 } from "@kubernetes-models/istio/networking.istio.io/v1beta1/WorkloadEntry";
import { WorkloadGroup as WorkloadGroupB1 } from "@kubernetes-models/istio/networking.istio.io/v1beta1/WorkloadGroup";
import { DestinationRule as DestinationRuleA3 } from "@kubernetes-models/istio/networking.istio.io/v1alpha3/DestinationRule";
import { Gateway as GatewayA3 } from "@kubernetes-models/istio/networking.istio.io/v1alpha3/Gateway";
import { ServiceEntry as ServiceEntryA3 } from "@kubernetes-models/istio/networking.istio.io/v1alpha3/ServiceEntry";
import { Sidecar as SidecarA3 } from "@kubernetes-models/istio/networking.istio.io/v1alpha3/Sidecar";
import { VirtualService as VirtualServiceA3 } from "@kubernetes-models/istio/networking.istio.io/v1alpha3/VirtualService";
import { WorkloadEntry as WorkloadEntryA3 } from "@kubernetes-models/istio/networking.istio.io/v1alpha3/WorkloadEntry";
import { WorkloadGroup as WorkloadGroupA3 } from "@kubernetes-models/istio/networking.istio.io/v1alpha3/WorkloadGroup";
import { AuthorizationPolicy as AuthorizationPolicyV1 } from "@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy";
import { RequestAuthentication as RequestAuthenticationV1 } from "@kubernetes-models/istio/security.istio.io/v1/RequestAuthentication";
import { AuthorizationPolicy as AuthorizationPolicyB1 } from "@kubernetes-models/istio/security.istio.io/v1beta1/AuthorizationPolicy";
import { PeerAuthentication as PeerAuthenticationB1 } from "@kubernetes-models/istio/security.istio.io/v1beta1/PeerAuthentication";
import { RequestAuthentication as RequestAuthenticationB1 } from "@kubernetes-models/istio/security.istio.io/v1beta1/RequestAuthentication";
import { Telemetry as TelemetryA1 } from "@kubernetes-models/istio/telemetry.istio.io/v1alpha1/Telemetry";
import type { KnownKind } from "./types.ts";

/** A generated model class: construct with the object, validate() throws an Ajv ValidationError. */
export interface SchemaModel {
  apiVersion: string;
  kind: string;
  new (data: never): { validate(): void };
}

/** kind -> apiVersion -> the model that checks it (null: Mizzen checks structure itself). */
export const KIND_VERSIONS: Record<KnownKind, Record<string, SchemaModel | null>> = {
  VirtualService: networking(VirtualServiceB1, VirtualServiceA3),
  DestinationRule: networking(DestinationRuleB1, DestinationRuleA3),
  ServiceEntry: networking(ServiceEntryB1, ServiceEntryA3),
  WorkloadEntry: networking(WorkloadEntryB1, WorkloadEntryA3),
  WorkloadGroup: networking(WorkloadGroupB1, WorkloadGroupA3),
  Gateway: networking(GatewayB1, GatewayA3),
  Sidecar: networking(SidecarB1, SidecarA3),
  PeerAuthentication: {
    "security.istio.io/v1": PeerAuthenticationB1 as unknown as SchemaModel,
    "security.istio.io/v1beta1": PeerAuthenticationB1 as unknown as SchemaModel,
  },
  AuthorizationPolicy: {
    "security.istio.io/v1": AuthorizationPolicyV1 as unknown as SchemaModel,
    "security.istio.io/v1beta1": AuthorizationPolicyB1 as unknown as SchemaModel,
  },
  RequestAuthentication: {
    "security.istio.io/v1": RequestAuthenticationV1 as unknown as SchemaModel,
    "security.istio.io/v1beta1": RequestAuthenticationB1 as unknown as SchemaModel,
  },
  Telemetry: {
    "telemetry.istio.io/v1": TelemetryA1 as unknown as SchemaModel,
    "telemetry.istio.io/v1alpha1": TelemetryA1 as unknown as SchemaModel,
  },
  Service: { v1: null },
};

function networking(v1beta1: unknown, v1alpha3: unknown): Record<string, SchemaModel> {
  return {
    "networking.istio.io/v1": v1beta1 as SchemaModel,
    "networking.istio.io/v1beta1": v1beta1 as SchemaModel,
    "networking.istio.io/v1alpha3": v1alpha3 as SchemaModel,
  };
}

export function isKnownKind(kind: string): kind is KnownKind {
  return Object.hasOwn(KIND_VERSIONS, kind);
}
