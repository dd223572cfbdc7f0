// PeerAuthentication, AuthorizationPolicy, RequestAuthentication and Telemetry semantics.
import { checkTelemetryMetrics } from "./telemetry-metrics.ts";
import { isObj, Issues, labelMap, list, obj, percent, str } from "./checks.ts";
import type { Obj } from "./checks.ts";
import type { PathSegment } from "../yaml.ts";
import { checkAuthorizationPolicyMore } from "./authorization-policy.ts";
import { checkRequestAuthenticationMore } from "./request-authentication.ts";

function selector(spec: Obj, out: Issues): boolean {
  if (spec.selector === undefined || spec.selector === null) return false;
  out.check(["spec", "selector", "matchLabels"], labelMap(obj(spec.selector).matchLabels ?? {}));
  return true;
}

function portKey(k: string): string | null {
  return /^\d{1,5}$/.test(k) && Number(k) >= 1 && Number(k) <= 65535 ? null : `port "${k}" must be a number from 1 to 65535`;
}

export function validatePeerAuthentication(spec: Obj, out: Issues): void {
  const hasSelector = selector(spec, out);
  const portLevel = spec.portLevelMtls;
  if (isObj(portLevel) && Object.keys(portLevel).length > 0) {
    if (!hasSelector || Object.keys(obj(obj(spec.selector).matchLabels)).length === 0) {
      out.error(["spec", "portLevelMtls"], "portLevelMtls requires a selector with matchLabels; port-level settings only apply to selected workloads");
    }
    for (const k of Object.keys(portLevel)) out.check(["spec", "portLevelMtls", k], portKey(k));
  }
}

export function validateAuthorizationPolicy(spec: Obj, out: Issues): void {
  selector(spec, out);
  if (spec.selector !== undefined && spec.targetRef !== undefined) out.error(["spec", "targetRef"], "set only one of selector and targetRef");
  const action = str(spec.action) ?? "ALLOW";
  if (action === "CUSTOM") {
    out.error(["spec", "action"], "CUSTOM (external authorization) is not supported yet by Mizzen; use ALLOW or DENY");
  } else if (spec.provider !== undefined) {
    out.error(["spec", "provider"], "provider is only used with action CUSTOM; remove it");
  }
  list(spec.rules).forEach((r, i) => {
    const rule = obj(r);
    const at: PathSegment[] = ["spec", "rules", i];
    list(rule.from).forEach((f, j) => {
      const src = obj(f).source;
      if (!isObj(src) || Object.keys(src).length === 0) out.error([...at, "from", j, "source"], "source must not be empty; give principals, namespaces, ipBlocks or requestPrincipals");
    });
    list(rule.to).forEach((t, j) => {
      const op = obj(t).operation;
      if (!isObj(op) || Object.keys(op).length === 0) out.error([...at, "to", j, "operation"], "operation must not be empty; give hosts, ports, methods or paths");
      list(obj(op).ports).concat(list(obj(op).notPorts)).forEach((p) => {
        const msg = typeof p === "string" ? portKey(p) : `ports must be strings such as "8080" (got ${JSON.stringify(p)})`;
        if (msg) out.error([...at, "to", j, "operation", "ports"], msg);
      });
    });
    list(rule.when).forEach((w, j) => {
      const cond = obj(w);
      if (typeof cond.key !== "string" || cond.key === "") out.error([...at, "when", j, "key"], 'key is required (e.g. key: request.headers[x-token])');
      if (list(cond.values).length === 0 && list(cond.notValues).length === 0) {
        out.error([...at, "when", j], "a condition needs values or notValues");
      }
    });
  });
  checkAuthorizationPolicyMore(spec, out);
}

export function validateRequestAuthentication(spec: Obj, out: Issues): void {
  selector(spec, out);
  list(spec.jwtRules).forEach((r, i) => {
    const rule = obj(r);
    const at: PathSegment[] = ["spec", "jwtRules", i];
    if (typeof rule.issuer !== "string" || rule.issuer === "") out.error([...at, "issuer"], "issuer is required (the iss claim the tokens carry)");
    if (rule.jwksUri !== undefined) {
      const uri = str(rule.jwksUri) ?? "";
      if (!/^https?:\/\/[^\s/]+/.test(uri)) out.error([...at, "jwksUri"], `jwksUri "${uri}" must be an http:// or https:// URL`);
    }
    list(rule.fromHeaders).forEach((h, j) => {
      if (typeof obj(h).name !== "string" || obj(h).name === "") out.error([...at, "fromHeaders", j, "name"], "header name is required");
    });
  });
  checkRequestAuthenticationMore(spec, out);
}

export function validateTelemetry(spec: Obj, out: Issues): void {
  selector(spec, out);
  list(spec.tracing).forEach((t, i) => {
    const pct = obj(t).randomSamplingPercentage;
    if (pct !== undefined) out.check(["spec", "tracing", i, "randomSamplingPercentage"], percent(pct, "randomSamplingPercentage"));
  });
  checkTelemetryMetrics(spec, out);
}
