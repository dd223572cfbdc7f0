// What every translator reads: config, registry, mesh settings, and the part of the proxy
// asking that this translator depends on (a "view": see proxy views in each per-type file).
import type { ConfigError } from "../api/types.ts";
import type { ConfigObject } from "../api/types.ts";
import type { Registry } from "../registry/types.ts";
import type { ProxyNode } from "../xds/node.ts";
import type { MeshConfig } from "./mesh-config.ts";
import type { JwksLookup } from "./jwt.ts";

/** The inputs every proxy shares within one version of the control plane's state. */
export interface SharedInput {
  objects: ConfigObject[];
  registry: Registry;
  mesh: MeshConfig;
  /** RequestAuthentication jwksUri -> keys the control plane fetched (absent: none known yet). */
  jwks?: JwksLookup;
}

/**
 * A translator's input with only the proxy fields it may read. A ProxyNode fits every view,
 * so the all-in-one translate() passes the whole node; a cache passes the narrowed view it
 * built its key from, so equal keys mean equal inputs.
 */
export interface ViewInput<View> extends SharedInput {
  proxy: View;
}

export interface TranslateInput extends SharedInput {
  proxy: ProxyNode;
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
