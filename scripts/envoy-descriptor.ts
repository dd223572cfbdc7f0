// Writes src/xds/envoy-descriptor.json from the .proto files listed in src/xds/protos.ts
// (ROOT_FILES). Run it after changing that list or upgrading @grpc/grpc-js-xds:
//   npx node scripts/envoy-descriptor.ts
// src/xds/envoy-descriptor.test.ts fails while the committed file differs from its output.
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { envoyDescriptorText } from "../src/xds/envoy-descriptor.ts";

const out = fileURLToPath(new URL("../src/xds/envoy-descriptor.json", import.meta.url));
const text = envoyDescriptorText();
writeFileSync(out, text);
process.stdout.write(`wrote ${out} (${Math.round(text.length / 1024)} KiB)\n`);
