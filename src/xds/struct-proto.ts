// google.protobuf.Struct with snake_case field names, for every protobufjs root we build.
import protobuf from "protobufjs";

// protobufjs bundles google/protobuf/struct.proto with camelCase field names (stringValue),
// which would break the snake_case object form. The same schema (same field numbers, so the
// same wire format) is declared here and registered before anything imports it.
const STRUCT_PROTO = `
syntax = "proto3";
package google.protobuf;
message Struct { map<string, Value> fields = 1; }
message Value {
  oneof kind {
    NullValue null_value = 1;
    double number_value = 2;
    string string_value = 3;
    bool bool_value = 4;
    Struct struct_value = 5;
    ListValue list_value = 6;
  }
}
enum NullValue { NULL_VALUE = 0; }
message ListValue { repeated Value values = 1; }
`;

/** Declares Struct/Value/ListValue in `root` and marks the file loaded, before any import needs it. */
export function addSnakeCaseStruct(root: protobuf.Root): void {
  protobuf.parse(STRUCT_PROTO, root, { keepCase: true });
  root.files.push("google/protobuf/struct.proto"); // marks it loaded: imports skip the bundled copy
}
