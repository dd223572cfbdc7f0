// The semantic validator for each kind (Istio's webhook rules, in our own code).
import type { KnownKind } from "../types.ts";
import type { Issues, Obj } from "./checks.ts";
import { validateDestinationRule } from "./destination-rule.ts";
import { validateGateway, validateSidecar } from "./gateway-sidecar.ts";
import { validateKubernetesService } from "./k8s-service.ts";
import { validateAuthorizationPolicy, validatePeerAuthentication, validateRequestAuthentication, validateTelemetry } from "./security.ts";
import { validateServiceEntry, validateWorkloadEntry, validateWorkloadGroup } from "./service-entry.ts";
import { validateVirtualService } from "./virtual-service.ts";

export const SEMANTIC: Record<KnownKind, (spec: Obj, out: Issues) => void> = {
  VirtualService: validateVirtualService,
  DestinationRule: validateDestinationRule,
  ServiceEntry: validateServiceEntry,
  WorkloadEntry: (spec, out) => validateWorkloadEntry(spec, out),
  WorkloadGroup: validateWorkloadGroup,
  Gateway: validateGateway,
  Sidecar: validateSidecar,
  PeerAuthentication: validatePeerAuthentication,
  AuthorizationPolicy: validateAuthorizationPolicy,
  RequestAuthentication: validateRequestAuthentication,
  Telemetry: validateTelemetry,
  Service: validateKubernetesService,
};
