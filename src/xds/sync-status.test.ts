import { test } from "node:test";
import assert from "node:assert/strict";
import { TypeState } from "./sync-status.ts";
import { TYPE } from "./envoy-types.ts";

test("the subscription key follows every change of names or wildcard, ignoring order and repeats", () => {
  const st = new TypeState(TYPE.route);
  st.subscribe(["b", "a", "b"], false);
  const ab = st.subscriptionKey();
  assert.equal(st.subscriptionKey(), ab);
  st.subscribe(["a", "b"], false);
  assert.equal(st.subscriptionKey(), ab);
  st.subscribe(["a"], false);
  assert.notEqual(st.subscriptionKey(), ab);
  st.subscribe(["a"], true);
  assert.equal(st.subscriptionKey(), "*");
  st.wildcard = false;
  assert.equal(st.subscriptionKey(), JSON.stringify(["a"]));
  st.names = ["c"];
  assert.equal(st.subscriptionKey(), JSON.stringify(["c"]));
});
