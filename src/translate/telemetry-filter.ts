// Telemetry accessLogging[].filter.expression (CEL) -> Envoy's native AccessLogFilter.
//
// Istio hands the CEL text to Envoy's CEL extension filter. Mizzen's proxy has no CEL engine,
// so the control plane understands the forms Istio users actually write and emits the same
// condition as Envoy's built-in typed filters (status code, response flags, header), which
// any Envoy and the Mizzen proxy evaluate alike:
//   response.code  ==|!=|<|<=|>|>=  <integer>
//   response.flags != "-"            (any flag set)      response.flags == "UH"  (that flag set)
//   request.method ==|!=  "GET"
//   combined with &&, || and parentheses.
// Anything else is refused with a message; the caller warns and logs unfiltered.
import type { AccessLogFilter } from "../xds/envoy-types.ts";

// Envoy's response flag names (ResponseFlagFilter accepts only these).
const FLAGS = new Set(["LH", "UH", "UT", "LR", "UR", "UF", "UC", "UO", "NR", "DI", "FI", "RL", "UAEX", "RLSE", "DC", "URX", "SI", "IH", "DPE", "UMSDR", "RFCF", "NFCF", "DT", "UPE", "NC", "OM", "DF", "DO", "DR"]);
const RUNTIME_KEY = "mizzen.access_log.status_code"; // required by the proto; never set at run time

type Token = { kind: "ident" | "op" | "num" | "str" | "paren"; text: string };

export class FilterUnsupported extends Error {}

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  const re = /\s*(?:([A-Za-z_][\w.]*)|(&&|\|\||==|!=|<=|>=|<|>)|(\d+)|"([^"\\]*)"|'([^'\\]*)'|([()]))/y;
  let i = 0;
  while (i < src.length) {
    if (/^\s*$/.test(src.slice(i))) break;
    re.lastIndex = i;
    const m = re.exec(src);
    if (!m) throw new FilterUnsupported(`unexpected text at column ${i + 1}: "${src.slice(i, i + 12)}"`);
    if (m[1] !== undefined) out.push({ kind: "ident", text: m[1] });
    else if (m[2] !== undefined) out.push({ kind: "op", text: m[2] });
    else if (m[3] !== undefined) out.push({ kind: "num", text: m[3] });
    else if (m[4] !== undefined || m[5] !== undefined) out.push({ kind: "str", text: m[4] ?? m[5]! });
    else out.push({ kind: "paren", text: m[6]! });
    i = re.lastIndex;
  }
  return out;
}

function statusFilter(op: "EQ" | "GE" | "LE", value: number): AccessLogFilter {
  return { status_code_filter: { comparison: { op, value: { default_value: value, runtime_key: RUNTIME_KEY } } } };
}

function codeComparison(op: string, n: number): AccessLogFilter {
  switch (op) {
    case "==": return statusFilter("EQ", n);
    case ">=": return statusFilter("GE", n);
    case "<=": return statusFilter("LE", n);
    case ">": return statusFilter("GE", n + 1);
    case "<": return statusFilter("LE", Math.max(0, n - 1));
    default: return { or_filter: { filters: [statusFilter("LE", Math.max(0, n - 1)), statusFilter("GE", n + 1)] } }; // !=
  }
}

function comparison(attr: string, op: string, value: Token): AccessLogFilter {
  if (attr === "response.code") {
    if (value.kind !== "num") throw new FilterUnsupported(`response.code compares with an integer, not ${JSON.stringify(value.text)}`);
    const n = Number(value.text);
    if (n > 999) throw new FilterUnsupported(`${n} is not an HTTP status code`);
    return codeComparison(op, n);
  }
  if (value.kind !== "str") throw new FilterUnsupported(`${attr} compares with a quoted string`);
  if (attr === "response.flags") {
    if (op === "!=" && value.text === "-") return { response_flag_filter: {} };
    if (op === "==" && FLAGS.has(value.text)) return { response_flag_filter: { flags: [value.text] } };
    throw new FilterUnsupported(`only response.flags != "-" and response.flags == "<one Envoy flag>" are supported`);
  }
  if (attr === "request.method") {
    if (op !== "==" && op !== "!=") throw new FilterUnsupported("request.method supports only == and !=");
    return { header_filter: { header: { name: ":method", string_match: { exact: value.text }, ...(op === "!=" ? { invert_match: true } : {}) } } };
  }
  throw new FilterUnsupported(`attribute "${attr}" is not supported (use response.code, response.flags or request.method)`);
}

/** Recursive descent: or := and ("||" and)*; and := atom ("&&" atom)*; atom := "(" or ")" | attr op value. */
class Parser {
  private i = 0;
  private readonly tokens: Token[];
  constructor(tokens: Token[]) {
    this.tokens = tokens;
  }
  parse(): AccessLogFilter {
    const f = this.or();
    if (this.i < this.tokens.length) throw new FilterUnsupported(`unexpected "${this.tokens[this.i]!.text}"`);
    return f;
  }
  private peek(): Token | undefined {
    return this.tokens[this.i];
  }
  private next(what: string): Token {
    const t = this.tokens[this.i++];
    if (!t) throw new FilterUnsupported(`expression ends where ${what} was expected`);
    return t;
  }
  private or(): AccessLogFilter {
    const parts = [this.and()];
    while (this.peek()?.text === "||") {
      this.i++;
      parts.push(this.and());
    }
    return parts.length === 1 ? parts[0]! : { or_filter: { filters: parts } };
  }
  private and(): AccessLogFilter {
    const parts = [this.atom()];
    while (this.peek()?.text === "&&") {
      this.i++;
      parts.push(this.atom());
    }
    return parts.length === 1 ? parts[0]! : { and_filter: { filters: parts } };
  }
  private atom(): AccessLogFilter {
    const t = this.next("a comparison");
    if (t.kind === "paren" && t.text === "(") {
      const inner = this.or();
      const close = this.next('")"');
      if (close.text !== ")") throw new FilterUnsupported(`expected ")" but found "${close.text}"`);
      return inner;
    }
    if (t.kind !== "ident") throw new FilterUnsupported(`expected an attribute but found "${t.text}"`);
    const op = this.next("a comparison operator");
    if (op.kind !== "op" || op.text === "&&" || op.text === "||") throw new FilterUnsupported(`expected ==, !=, <, <=, > or >= after ${t.text}`);
    return comparison(t.text, op.text, this.next("a value"));
  }
}

/** The Envoy filter for a supported expression; throws FilterUnsupported (with a reason) otherwise. */
export function compileFilterExpression(expression: string): AccessLogFilter {
  const tokens = tokenize(expression);
  if (tokens.length === 0) throw new FilterUnsupported("the expression is empty");
  return new Parser(tokens).parse();
}
