// What every translator reads: config, registry, the proxy asking, and mesh settings.
import type { ConfigError } from "../api/types.ts";
import type { ConfigObject } from "../api/types.ts";
import type { Registry } from "../registry/types.ts";
import type { ProxyNode } from "../xds/node.ts";
import type { MeshConfig } from "./mesh-config.ts";

export interface TranslateInput {
  objects: ConfigObject[];
  registry: Registry;
  proxy: ProxyNode;
  mesh: MeshConfig;
}

/** Where translators report config that produces traffic failures (kept, not rejected). */
export type WarningSink = ConfigError[];

export function warnAbout(sink: WarningSink | undefined, o: ConfigObject, field: string, message: string): void {
  if (!sink) return;
  const key = `${o.kind}/${o.metadata.namespace}/${o.metadata.name}|${field}|${message}`;
  // One warning per object+field+message even if several proxies/ports hit it.
  if (sink.some((w) => `${w.kind}/${w.namespace}/${w.name}|${w.field}|${w.message}` === key)) return;
  sink.push({
    file: o.source.file,
    line: o.source.line,
    ...(o.source.column ? { column: o.source.column } : {}),
    kind: o.kind,
    name: o.metadata.name,
    namespace: o.metadata.namespace,
    field,
    message,
    severity: "warning",
  });
}

export function byName<T extends { name: string }>(a: T, b: T): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
