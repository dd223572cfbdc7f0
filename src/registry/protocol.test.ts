import { test } from "node:test";
import assert from "node:assert/strict";
import { protocolForPort, protocolForServiceEntryPort, toRegistryProtocol, isHttpLike, listenerProtocol, protocolForWorkloadPort } from "./protocol.ts";

test("port name prefixes select Istio's protocol", () => {
  const cases: [string, string][] = [
    ["http", "HTTP"], ["http-web", "HTTP"], ["HTTP-Foo", "HTTP"], ["http2", "HTTP2"], ["http2-x", "HTTP2"],
    ["grpc", "GRPC"], ["grpc-api", "GRPC"], ["grpc-web", "GRPC-Web"], ["grpc-web-x", "GRPC-Web"],
    ["https", "HTTPS"], ["tls-db", "TLS"], ["tcp", "TCP"], ["mongo", "Mongo"], ["mysql-main", "MySQL"],
    ["redis", "Redis"], ["web", "UNKNOWN"], ["http2foo", "UNKNOWN"], ["", "UNKNOWN"],
  ];
  for (const [name, want] of cases) assert.equal(protocolForPort({ port: 8080, name }), want, name);
});

test("appProtocol wins over the name; UDP transport wins over both", () => {
  assert.equal(protocolForPort({ port: 80, name: "tcp", appProtocol: "http" }), "HTTP");
  assert.equal(protocolForPort({ port: 80, name: "web", appProtocol: "kubernetes.io/h2c" }), "HTTP2");
  assert.equal(protocolForPort({ port: 80, name: "web", appProtocol: "nonsense" }), "UNKNOWN");
  assert.equal(protocolForPort({ port: 53, name: "dns", transport: "UDP" }), "UDP");
});

test("unnamed well-known ports are TCP; a TCP port named udp is not UDP", () => {
  assert.equal(protocolForPort({ port: 3306 }), "TCP");
  assert.equal(protocolForPort({ port: 9999 }), "UNKNOWN");
  assert.equal(protocolForPort({ port: 9999, name: "udp-x" }), "UNKNOWN");
});

test("ServiceEntry ports use the protocol field first", () => {
  assert.equal(protocolForServiceEntryPort({ number: 443, name: "x", protocol: "TLS" }), "TLS");
  assert.equal(protocolForServiceEntryPort({ number: 80, name: "http" }), "HTTP");
});

test("narrowing to the registry's protocol", () => {
  assert.equal(toRegistryProtocol("GRPC-Web"), "GRPC");
  assert.equal(toRegistryProtocol("Mongo"), "TCP");
  assert.equal(toRegistryProtocol("UDP"), "TCP");
  assert.equal(isHttpLike("UNKNOWN"), true);
  assert.equal(isHttpLike("TLS"), false);
});

test("listener protocol: HTTP family -> HTTP connection manager, TCP family -> tcp_proxy, unknown -> sniff", () => {
  const cases: [string, string][] = [["http-web", "http"], ["grpc", "http"], ["http2", "http"], ["grpc-web", "http"], ["tcp", "tcp"], ["tls", "tcp"], ["https", "tcp"], ["mongo", "tcp"], ["mysql", "tcp"], ["redis", "tcp"], ["", "auto"], ["web", "auto"]];
  for (const [name, want] of cases) assert.equal(listenerProtocol(toRegistryProtocol(protocolForPort({ port: 7000, name }))), want, name);
  assert.equal(listenerProtocol(toRegistryProtocol(protocolForPort({ port: 3306 }))), "tcp", "unnamed well-known TCP ports are never sniffed");
});

test("a workload port's protocol field is its transport (POD_PORTS), not an application protocol", () => {
  assert.equal(protocolForWorkloadPort({ containerPort: 8080, name: "http", protocol: "TCP" }), "HTTP");
  assert.equal(protocolForWorkloadPort({ containerPort: 7000, name: "", protocol: "TCP" }), "UNKNOWN");
  assert.equal(protocolForWorkloadPort({ containerPort: 5432, name: "tcp-db", protocol: "TCP" }), "TCP");
});
