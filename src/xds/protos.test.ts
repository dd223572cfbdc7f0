import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeResource, encodeResource, resourceName, messageType } from "./protos.ts";
import { TYPE, type Cluster, type ClusterLoadAssignment, type Listener, type RouteConfiguration } from "./envoy-types.ts";

const listener: Listener = {
  name: "http_proxy",
  address: { socket_address: { address: "127.10.1.1", port_value: 15001 } },
  traffic_direction: "OUTBOUND",
  filter_chains: [{
    name: "http",
    filters: [{
      name: "envoy.filters.network.http_connection_manager",
      typed_config: {
        "@type": TYPE.hcm,
        stat_prefix: "outbound_http",
        codec_type: "AUTO",
        rds: { route_config_name: "http_proxy", config_source: { ads: {}, resource_api_version: "V3" } },
        http_filters: [{ name: "envoy.filters.http.router", typed_config: { "@type": TYPE.router } }],
        access_log: [{
          name: "envoy.access_loggers.stdout",
          typed_config: { "@type": "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog" },
        }],
        generate_request_id: { value: true },
        stream_idle_timeout: { seconds: 300 },
      },
    }],
  }],
  metadata: { filter_metadata: { istio: { fields: { config: { string_value: "/apis/x" }, n: { number_value: 2 } } } } },
};

const route: RouteConfiguration = {
  name: "http_proxy",
  validate_clusters: { value: false },
  virtual_hosts: [{
    name: "reviews.default.svc.cluster.local:9080",
    domains: ["reviews.default.svc.cluster.local:9080", "reviews:9080"],
    retry_policy: { retry_on: "connect-failure,refused-stream", num_retries: { value: 2 } },
    routes: [
      {
        name: "canary",
        match: {
          safe_regex: { regex: "^/api/v[0-9]+/.*" },
          headers: [{ name: "x-user", string_match: { safe_regex: { regex: "^jason$" } } }],
          query_parameters: [{ name: "debug", present_match: true }],
        },
        route: {
          weighted_clusters: {
            clusters: [
              { name: "outbound|9080|v1|reviews.default.svc.cluster.local", weight: { value: 90 } },
              { name: "outbound|9080|v2|reviews.default.svc.cluster.local", weight: { value: 10 }, request_headers_to_add: [{ header: { key: "x-canary", value: "1" }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" }] },
            ],
          },
          timeout: { seconds: 5, nanos: 500_000_000 },
          retry_policy: {
            retry_on: "5xx,retriable-status-codes",
            num_retries: { value: 3 },
            per_try_timeout: { seconds: 1 },
            retriable_status_codes: [503, 504],
            retry_host_predicate: [{ name: "envoy.retry_host_predicates.previous_hosts" }],
            host_selection_retry_max_attempts: 5,
          },
        },
      },
      { match: { prefix: "/" }, route: { cluster: "outbound|9080||reviews.default.svc.cluster.local" }, decorator: { operation: "reviews" } },
      { match: { path: "/old" }, redirect: { path_redirect: "/new", response_code: "PERMANENT_REDIRECT" } },
    ],
  }],
};

const cluster: Cluster = {
  name: "outbound|9080||reviews.default.svc.cluster.local",
  type: "EDS",
  eds_cluster_config: { eds_config: { ads: {}, resource_api_version: "V3" }, service_name: "outbound|9080||reviews.default.svc.cluster.local" },
  connect_timeout: { seconds: 10 },
  lb_policy: "LEAST_REQUEST",
  circuit_breakers: { thresholds: [{ priority: "DEFAULT", max_connections: { value: 100 }, max_retries: { value: 3 } }] },
  outlier_detection: { consecutive_5xx: { value: 5 }, interval: { seconds: 10 }, base_ejection_time: { seconds: 30 } },
};

const cla: ClusterLoadAssignment = {
  cluster_name: "outbound|9080||reviews.default.svc.cluster.local",
  endpoints: [{
    locality: { region: "local", zone: "a" },
    lb_endpoints: [
      { endpoint: { address: { socket_address: { address: "127.10.1.3", port_value: 9080 } } }, health_status: "HEALTHY", load_balancing_weight: { value: 1 } },
      { endpoint: { address: { socket_address: { address: "127.10.1.4", port_value: 9080 } } } },
    ],
  }],
};

test("realistic resources survive encode -> decode unchanged", () => {
  for (const [typeUrl, resource] of [[TYPE.listener, listener], [TYPE.route, route], [TYPE.cluster, cluster], [TYPE.endpoint, cla]] as const) {
    const any = encodeResource(typeUrl, resource);
    assert.equal(any.type_url, typeUrl);
    assert.ok(any.value.length > 20);
    assert.deepEqual(decodeResource(any), resource, typeUrl);
  }
});

test("resourceName reads name, or cluster_name for endpoints", () => {
  assert.equal(resourceName(TYPE.listener, listener), "http_proxy");
  assert.equal(resourceName(TYPE.endpoint, cla), "outbound|9080||reviews.default.svc.cluster.local");
});

test("malformed objects are rejected with the field path", () => {
  assert.throws(() => encodeResource(TYPE.cluster, { name: "c", lb_polcy: "ROUND_ROBIN" }), /Cluster\.lb_polcy: unknown field/);
  assert.throws(() => encodeResource(TYPE.cluster, { name: "c", type: "EDSS" }), /Cluster\.type: "EDSS" is not one of/);
  assert.throws(() => encodeResource(TYPE.cluster, { name: 7 }), /Cluster\.name: expected a string/);
  assert.throws(() => encodeResource(TYPE.endpoint, { cluster_name: "x", endpoints: {} }), /endpoints: expected a list/);
  assert.throws(
    () => encodeResource(TYPE.listener, { name: "l", address: { socket_address: { address: "1.2.3.4", port_value: -1 } } }),
    /port_value: -1 is out of range/,
  );
  assert.throws(
    () => encodeResource(TYPE.listener, { name: "l", filter_chains: [{ filters: [{ name: "f", typed_config: { "@type": "type.googleapis.com/no.Such" } }] }] }),
    /filter_chains\[0\]\.filters\[0\]\.typed_config\["@type"\]: unknown type/,
  );
  assert.throws(
    () => encodeResource(TYPE.listener, { name: "l", filter_chains: [{ filters: [{ name: "f", typed_config: { "@type": TYPE.hcm, stat_prefx: "x" } }] }] }),
    /<HttpConnectionManager>\.stat_prefx: unknown field/,
  );
  assert.throws(() => encodeResource(TYPE.route, { name: "r", virtual_hosts: [{ name: "v", domains: ["*"], routes: [{ match: { prefix: "/", path: "/x" } }] }] }), /alternatives \(oneof/);
  assert.throws(() => encodeResource("type.googleapis.com/nope.Nothing", {}), /unknown type URL/);
});

test("decoding garbage bytes fails with an error, not a crash", () => {
  assert.throws(() => decodeResource({ type_url: TYPE.listener, value: Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]) }));
  assert.equal(messageType("garbage"), undefined);
});
