// Envoy's HeaderValueOption lists -> HeaderOps, and applying them to a node header object.
import type { HeaderValueOption } from "../../xds/envoy-types.ts";
import type { AppendAction, HeaderOps } from "./types.ts";
import { ConfigInvalid } from "./string-match.ts";

const ACTIONS = new Set<AppendAction>(["APPEND_IF_EXISTS_OR_ADD", "ADD_IF_ABSENT", "OVERWRITE_IF_EXISTS_OR_ADD", "OVERWRITE_IF_EXISTS"]);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

export function compileHeaderOps(add: HeaderValueOption[] | undefined, remove: string[] | undefined, field: string): HeaderOps | undefined {
  if (!add?.length && !remove?.length) return undefined;
  const ops: HeaderOps = { add: [], remove: [] };
  (add ?? []).forEach((h, i) => {
    const key = String(h?.header?.key ?? "").toLowerCase();
    if (!TOKEN.test(key)) throw new ConfigInvalid(`${field}_to_add[${i}].header.key`, `"${key}" is not a valid header name`);
    const action = (h.append_action ?? "APPEND_IF_EXISTS_OR_ADD") as AppendAction;
    if (!ACTIONS.has(action)) throw new ConfigInvalid(`${field}_to_add[${i}].append_action`, `unknown action ${String(action)}`);
    ops.add.push({ key, value: String(h.header.value ?? ""), action });
  });
  for (const name of remove ?? []) ops.remove.push(String(name).toLowerCase());
  return ops;
}

type HeaderBag = Record<string, string | string[] | number | undefined>;

/** Applies removals then additions, Envoy's order. Keys in the bag are lower case. */
export function applyHeaderOps(ops: HeaderOps | undefined, headers: HeaderBag): void {
  if (!ops) return;
  for (const name of ops.remove) delete headers[name];
  for (const h of ops.add) {
    const cur = headers[h.key];
    switch (h.action) {
      case "APPEND_IF_EXISTS_OR_ADD":
        if (cur === undefined) headers[h.key] = h.value;
        else if (Array.isArray(cur)) headers[h.key] = [...cur, h.value];
        else headers[h.key] = h.key === "set-cookie" ? [String(cur), h.value] : `${String(cur)},${h.value}`;
        break;
      case "ADD_IF_ABSENT":
        if (cur === undefined) headers[h.key] = h.value;
        break;
      case "OVERWRITE_IF_EXISTS_OR_ADD":
        headers[h.key] = h.value;
        break;
      case "OVERWRITE_IF_EXISTS":
        if (cur !== undefined) headers[h.key] = h.value;
        break;
    }
  }
}
