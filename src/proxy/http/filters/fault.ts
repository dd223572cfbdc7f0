// envoy.filters.http.fault: compiled once from an HTTPFault (per route, or the filter's own
// config as the default), run per request before the route's action. As in Envoy the delay
// and the abort are drawn independently, the abort after the delay has elapsed; a delay sets
// flag DI, an abort flag FI and answers "fault filter abort" (a trailers-only gRPC answer
// for gRPC requests).
import type { IncomingMessage, ServerResponse } from "node:http";
import { ConfigInvalid, durationMs } from "../../state/string-match.ts";
import { grpcStatusOf, sendLocalReply } from "../local-reply.ts";
import { compileFraction, hits } from "./percent.ts";
import type { RequestLog } from "../request-log.ts";

export const FAULT_FILTER_NAME = "envoy.filters.http.fault";
export const FAULT_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault";

/** What an abort answers: an HTTP status, or (status 200 and) a gRPC status. */
export interface FaultAbort { httpStatus: number; grpcStatus: number | undefined }

export interface CompiledFault {
  /** Milliseconds to hold this request (0 = none); draws one random number when a delay is configured. */
  pickDelay(random: () => number): number;
  /** The abort for this request, or undefined; draws one random number when an abort is configured. */
  pickAbort(random: () => number): FaultAbort | undefined;
}

/** HTTPFault (object form) -> CompiledFault; undefined when it configures neither delay nor abort. */
export function compileFault(cfg: Record<string, unknown> | undefined, field: string): CompiledFault | undefined {
  if (!cfg) return undefined;
  for (const unsupported of ["headers", "downstream_nodes", "upstream_cluster", "response_rate_limit"]) {
    const v = cfg[unsupported];
    if (v !== undefined && !(Array.isArray(v) && v.length === 0) && v !== "") {
      throw new ConfigInvalid(`${field}.${unsupported}`, "is not supported by the Mizzen proxy's fault filter (fixed delays and http/grpc aborts only)");
    }
  }
  const delay = cfg.delay as { fixed_delay?: { seconds?: number; nanos?: number }; header_delay?: unknown; percentage?: unknown } | undefined;
  let delayMs = 0, delayFraction = 0;
  if (delay) {
    if (delay.header_delay !== undefined) throw new ConfigInvalid(`${field}.delay.header_delay`, "header-controlled delays are not supported; use fixed_delay");
    const ms = durationMs(delay.fixed_delay, `${field}.delay.fixed_delay`);
    if (ms === undefined || ms <= 0) throw new ConfigInvalid(`${field}.delay.fixed_delay`, "a delay needs a fixed_delay greater than 0");
    delayMs = ms;
    delayFraction = compileFraction(delay.percentage, `${field}.delay.percentage`);
  }
  const abort = cfg.abort as { http_status?: number; grpc_status?: number; header_abort?: unknown; percentage?: unknown } | undefined;
  let abortReply: FaultAbort | undefined, abortFraction = 0;
  if (abort) {
    if (abort.header_abort !== undefined) throw new ConfigInvalid(`${field}.abort.header_abort`, "header-controlled aborts are not supported; use http_status or grpc_status");
    if (abort.http_status !== undefined) {
      const s = Number(abort.http_status);
      if (!Number.isInteger(s) || s < 200 || s > 599) throw new ConfigInvalid(`${field}.abort.http_status`, `${String(abort.http_status)} is not a status from 200 to 599`);
      abortReply = { httpStatus: s, grpcStatus: undefined };
    } else if (abort.grpc_status !== undefined) {
      const g = Number(abort.grpc_status);
      if (!Number.isInteger(g) || g < 0) throw new ConfigInvalid(`${field}.abort.grpc_status`, `${String(abort.grpc_status)} is not a gRPC status code`);
      abortReply = { httpStatus: 200, grpcStatus: g }; // Envoy answers 200 when only a gRPC status is set
    } else {
      throw new ConfigInvalid(`${field}.abort`, "an abort needs http_status or grpc_status");
    }
    abortFraction = compileFraction(abort.percentage, `${field}.abort.percentage`);
  }
  if (!delay && !abort) return undefined; // e.g. the filter's own empty config
  const reply = abortReply;
  return {
    pickDelay: (random) => (hits(delayFraction, random) ? delayMs : 0),
    pickAbort: (random) => (reply && hits(abortFraction, random) ? reply : undefined),
  };
}

const ABORT_BODY = "fault filter abort";

/** Answers an injected abort, flagged FI. */
export function sendFaultAbort(res: ServerResponse, log: RequestLog, abort: FaultAbort): void {
  if (log.grpc) {
    const grpcStatus = abort.grpcStatus ?? grpcStatusOf(abort.httpStatus);
    sendLocalReply(res, log, { status: 200, flag: "FI", details: "fault_filter_abort", body: "" }, {
      "content-type": "application/grpc",
      "grpc-status": String(grpcStatus),
      "grpc-message": ABORT_BODY,
    });
    return;
  }
  sendLocalReply(res, log, { status: abort.httpStatus, flag: "FI", details: "fault_filter_abort", body: ABORT_BODY });
}

/**
 * Runs the fault filter for one request: maybe wait (DI), then maybe abort (FI); otherwise
 * calls `next`. A client that leaves during the delay cancels it (the handler logs DC).
 */
export function runFault(fault: CompiledFault, res: ServerResponse, log: RequestLog, random: () => number, next: () => void): void {
  const afterDelay = (): void => {
    const abort = fault.pickAbort(random);
    if (abort) sendFaultAbort(res, log, abort);
    else next();
  };
  const ms = fault.pickDelay(random);
  if (ms <= 0) {
    afterDelay();
    return;
  }
  log.addFlag("DI");
  const timer = setTimeout(() => {
    res.off("close", cancel);
    if (!res.destroyed) afterDelay();
  }, ms);
  const cancel = (): void => clearTimeout(timer);
  res.once("close", cancel);
}
