// Wires the control plane: directory of YAML -> config store (last good per object) ->
// mesh state (objects + connected proxies) -> per-proxy translation -> ADS server; plus
// the debug endpoints. Everything that decides meaning lives in api/, registry/ and
// translate/; this file only connects them and decides when to push.
import type { Logger } from "pino";
import { ConfigStore } from "../config/store.ts";
import { DirectorySource } from "../config/directory-source.ts";
import { AdsServer } from "../xds/server.ts";
import { MeshState } from "./mesh-state.ts";
import { startDebugServer } from "./debug-server.ts";
import { debugRoutes } from "./debug-routes.ts";
import { createDashboard, type DashboardOptions } from "./dashboard/routes.ts";
import { ControlMetrics } from "./metrics.ts";
import { silentLogger } from "../log/logger.ts";
import { UserError } from "../cli/user-error.ts";
import { existsSync, statSync } from "node:fs";
import { setLogger } from "@grpc/grpc-js";
import { setupSecurity, type ControlSecurity, type SecurityOptions } from "./security.ts";
import { JwksCache } from "./jwks-cache.ts";
import { jwksSourcesInUse } from "../translate/jwt.ts";
import type { OutboundTrafficMode } from "../translate/mesh-config.ts";
import { loadMeshConfigFile, TracingWarningLog } from "./mesh-config-load.ts";

export interface ControlOptions {
  configDir: string;
  /** Plaintext xDS without authentication: development and tests only. */
  xds?: { host: string; port: number };
  /** xDS and the CA over TLS (Istio's 15012); needs `security`. */
  secureXds?: { host: string; port: number };
  /** The CA and token store; absent = no CA, plaintext xDS only. */
  security?: Omit<SecurityOptions, "allowAnonymousAds" | "logger" | "trustDomain"> & { trustDomain?: string };
  debug: { host: string; port: number };
  accessLog: boolean;
  rootNamespace?: string;
  domainSuffix?: string;
  /** meshConfig.outboundTrafficPolicy.mode for hosts outside the registry (default ALLOW_ANY, as Istio). */
  outboundTrafficPolicy?: OutboundTrafficMode;
  debounceMs?: number;
  /** Istio MeshConfig YAML (mesh-config-file.ts); its settings win over the options above. */
  meshConfigFile?: string;
  /** How often RequestAuthentication jwksUri keys are fetched again (default 20 min, Istio's). */
  jwksRefreshMs?: number;
  /** The dashboard: where its built page is (default ui/dist) and scraper tuning for tests. */
  dashboard?: Pick<DashboardOptions, "uiDir" | "scrape">;
  logger?: Logger;
}

export interface ControlPlane {
  /** The plaintext port (0 when not served). */
  xdsPort: number;
  /** The TLS port (0 when not served). */
  secureXdsPort: number;
  security: ControlSecurity | undefined;
  debugPort: number;
  close(): Promise<void>;
}

export async function startControl(opts: ControlOptions): Promise<ControlPlane> {
  const logger = opts.logger ?? silentLogger;
  // grpc-js prints its own errors to stderr (e.g. "No address added" next to our clearer
  // port-in-use message); send them to our log at debug level instead.
  const grpcLog = logger.child({ name: "grpc" });
  setLogger({ error: (...a: unknown[]) => grpcLog.debug(a.join(" ")), info: (...a: unknown[]) => grpcLog.debug(a.join(" ")), debug: (...a: unknown[]) => grpcLog.debug(a.join(" ")) });
  if (!existsSync(opts.configDir) || !statSync(opts.configDir).isDirectory()) {
    throw new UserError(`config directory ${opts.configDir} does not exist; pass the folder holding your Istio YAML with --config DIR`);
  }
  if (!opts.xds && !opts.secureXds) throw new UserError("the control plane needs somewhere to serve xDS: a TLS address (--secure-xds-address) or, for development, --plaintext-xds-address");
  if (opts.secureXds && !opts.security) throw new UserError("serving xDS over TLS needs the CA: pass a data directory (--data-dir)");
  // Read before anything is created on disk (the CA root): a bad file stops the start cleanly.
  const meshFile = opts.meshConfigFile ? loadMeshConfigFile(opts.meshConfigFile, logger) : {};
  const trustDomain = opts.security?.trustDomain ?? opts.domainSuffix ?? "cluster.local";
  let security: ControlSecurity | undefined;
  if (opts.security) {
    try {
      security = await setupSecurity({
        ...opts.security,
        trustDomain,
        serverNames: [...(opts.security.serverNames ?? []), ...(opts.secureXds ? [opts.secureXds.host] : [])],
        allowAnonymousAds: opts.xds !== undefined,
        logger,
      });
    } catch (err) {
      throw new UserError(`cannot start the certificate authority: ${(err as Error).message}`);
    }
  }
  const state = new MeshState({
    rootNamespace: opts.rootNamespace ?? "istio-system",
    domainSuffix: opts.domainSuffix ?? "cluster.local",
    trustDomain,
    accessLog: opts.accessLog,
    ...(opts.outboundTrafficPolicy ? { outboundTrafficPolicy: { mode: opts.outboundTrafficPolicy } } : {}),
    ...meshFile,
  });
  const tracingWarnings = new TracingWarningLog(logger);
  const store = new ConfigStore({ logger: logger.child({ name: "config" }) });
  const metrics = new ControlMetrics();
  const ads = new AdsServer({
    observer: metrics.observer,
    resourcesFor: (node) => state.resourcesByType(node),
    onConnect: (node, id) => {
      logger.info({ proxy: node.id, connection: id }, "proxy connected");
      if (state.proxyConnected(id, node)) ads.push(`workload ${node.name}.${node.namespace} registered`);
    },
    onDisconnect: (node, id) => {
      logger.info({ proxy: node.id, connection: id }, "proxy disconnected");
      if (state.proxyDisconnected(id)) ads.push(`workload ${node.name}.${node.namespace} went away`);
    },
    onHealth: (node, id, healthy, message) => {
      // A change of an auto-registered workload's health moves its endpoints in or out of use.
      if (state.proxyHealth(id, healthy, message)) ads.push(`workload ${node.name}.${node.namespace} ${healthy ? "healthy" : "unhealthy"}`);
    },
    logger: logger.child({ name: "ads" }),
    debounceMs: opts.debounceMs,
    ...(security ? { authorize: security.authorizeAds, services: security.services } : {}),
  });

  // RequestAuthentication jwksUri keys are fetched here and inlined for proxies (Istio's default).
  const jwks = new JwksCache({
    logger: logger.child({ name: "jwks" }),
    ...(opts.jwksRefreshMs ? { refreshMs: opts.jwksRefreshMs } : {}),
    onChange: () => {
      state.invalidate();
      ads.push("JWKS changed");
    },
  });
  state.setJwksLookup((uri) => jwks.get(uri));
  store.onChange((changed) => {
    state.setObjects(store.objects());
    tracingWarnings.report({ objects: store.objects(), registry: state.registry(), mesh: state.mesh });
    jwks.prune(jwksSourcesInUse(store.objects()));
    logger.info({ changed: [...changed], version: store.version }, "config changed");
    ads.push(`config: ${[...changed].join(", ")}`);
  });
  const source = new DirectorySource({ dir: opts.configDir, store, logger: logger.child({ name: "config" }) });
  await source.start();
  state.setObjects(store.objects());
  tracingWarnings.report({ objects: store.objects(), registry: state.registry(), mesh: state.mesh });

  let xdsPort = 0;
  let secureXdsPort = 0;
  try {
    if (opts.secureXds && security) secureXdsPort = await ads.listen(opts.secureXds.host, opts.secureXds.port, security.credentials);
  } catch (err) {
    source.close();
    await ads.close();
    throw new UserError(`cannot serve xDS over TLS on ${opts.secureXds!.host}:${opts.secureXds!.port}: ${(err as Error).message} (another mizzen running? stop it or pass --secure-xds-address)`);
  }
  try {
    if (opts.xds) xdsPort = await ads.listen(opts.xds.host, opts.xds.port);
  } catch (err) {
    source.close();
    await ads.close();
    throw new UserError(`cannot serve xDS on ${opts.xds!.host}:${opts.xds!.port}: ${(err as Error).message} (another mizzen running? stop it or pass --plaintext-xds-address)`);
  }
  let debug;
  const dashboard = createDashboard({ store, state, ads, ...opts.dashboard, logger: logger.child({ name: "dashboard" }) });
  try {
    debug = await startDebugServer({ ...opts.debug, routes: debugRoutes({ store, state, ads, metrics, ...(security ? { security } : {}), dashboard: dashboard.routes }), logger });
  } catch (err) {
    dashboard.close();
    source.close();
    await ads.close();
    throw new UserError(`cannot serve debug endpoints on ${opts.debug.host}:${opts.debug.port}: ${(err as Error).message} (pass --debug-address)`);
  }
  logger.info({ secureXds: opts.secureXds ? `${opts.secureXds.host}:${secureXdsPort}` : undefined, plaintextXds: opts.xds ? `${opts.xds.host}:${xdsPort}` : undefined, caRoot: security?.rootFile, debug: `${opts.debug.host}:${debug.port}`, objects: store.objects().length }, "control plane ready");

  if (opts.xds && security) logger.warn({ address: `${opts.xds.host}:${xdsPort}` }, "plaintext xDS is on: proxies may connect without TLS or a token (development only)");
  return {
    xdsPort,
    secureXdsPort,
    security,
    debugPort: debug.port,
    async close() {
      dashboard.close();
      jwks.close();
      source.close();
      debug.server.closeAllConnections();
      await new Promise((r) => debug.server.close(r));
      await ads.close();
    },
  };
}
