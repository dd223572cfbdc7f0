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
import { ControlMetrics } from "./metrics.ts";
import { silentLogger } from "../log/logger.ts";
import { UserError } from "../cli/user-error.ts";
import { existsSync, statSync } from "node:fs";
import { setLogger } from "@grpc/grpc-js";

export interface ControlOptions {
  configDir: string;
  xds: { host: string; port: number };
  debug: { host: string; port: number };
  accessLog: boolean;
  rootNamespace?: string;
  domainSuffix?: string;
  debounceMs?: number;
  logger?: Logger;
}

export interface ControlPlane {
  xdsPort: number;
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
  const state = new MeshState({
    rootNamespace: opts.rootNamespace ?? "istio-system",
    domainSuffix: opts.domainSuffix ?? "cluster.local",
    accessLog: opts.accessLog,
  });
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
  });

  store.onChange((changed) => {
    state.setObjects(store.objects());
    logger.info({ changed: [...changed], version: store.version }, "config changed");
    ads.push(`config: ${[...changed].join(", ")}`);
  });
  const source = new DirectorySource({ dir: opts.configDir, store, logger: logger.child({ name: "config" }) });
  await source.start();
  state.setObjects(store.objects());

  let xdsPort: number;
  try {
    xdsPort = await ads.listen(opts.xds.host, opts.xds.port);
  } catch (err) {
    source.close();
    throw new UserError(`cannot serve xDS on ${opts.xds.host}:${opts.xds.port}: ${(err as Error).message} (another mizzen running? stop it or pass --xds-address)`);
  }
  let debug;
  try {
    debug = await startDebugServer({ ...opts.debug, routes: debugRoutes({ store, state, ads, metrics }), logger });
  } catch (err) {
    source.close();
    await ads.close();
    throw new UserError(`cannot serve debug endpoints on ${opts.debug.host}:${opts.debug.port}: ${(err as Error).message} (pass --debug-address)`);
  }
  logger.info({ xds: `${opts.xds.host}:${xdsPort}`, debug: `${opts.debug.host}:${debug.port}`, objects: store.objects().length }, "control plane ready");

  return {
    xdsPort,
    debugPort: debug.port,
    async close() {
      source.close();
      debug.server.closeAllConnections();
      await new Promise((r) => debug.server.close(r));
      await ads.close();
    },
  };
}
