import { test } from "node:test";
import assert from "node:assert/strict";
import { parsePushes } from "./control-scale.ts";

test("pilot_xds_pushes by type is read from the control plane's /metrics text; other series are not", () => {
  const text = [
    "# HELP pilot_xds_pushes xDS responses sent, by type (lds, rds, cds, eds).",
    "# TYPE pilot_xds_pushes counter",
    'pilot_xds_pushes{type="cds"} 12',
    'pilot_xds_pushes{type="rds"} 3400',
    'pilot_xds_push_time_bucket{type="rds",le="0.01"} 5',
    "pilot_xds 100",
  ].join("\n");
  assert.deepEqual(parsePushes(text), { cds: 12, rds: 3400 });
  assert.deepEqual(parsePushes(""), {});
});
