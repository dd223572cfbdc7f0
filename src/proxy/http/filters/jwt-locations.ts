// Where tokens are read from (headers with an optional value prefix, query parameters,
// cookies) and which issuers may send a token there, as Envoy's jwt_authn extractor does:
// - a provider with no from_headers, from_params and from_cookies reads "Authorization: Bearer"
//   and the access_token query parameter;
// - a header with a prefix yields the run of base64url-and-dot characters after the first
//   occurrence of the prefix (a header without the prefix yields nothing); without a prefix the
//   whole value is the token;
// - a location shared by several providers accepts the issuers of all of them.
import type { IncomingHttpHeaders } from "node:http";

export interface TokenLocation {
  readonly kind: "header" | "param" | "cookie";
  /** Lower-case header name, parameter or cookie name. */
  readonly name: string;
  readonly prefix: string;
  /** Issuers allowed to send a token here; null = any (a provider with an empty issuer). */
  readonly issuers: ReadonlySet<string> | null;
}

export interface FoundToken {
  readonly token: string;
  readonly location: TokenLocation;
}

/** One provider's (or several providers') locations, merged by place. */
export interface Extractor {
  readonly locations: readonly TokenLocation[];
}

export interface ProviderLocations {
  issuer: string;
  headers: readonly { name: string; prefix: string }[];
  params: readonly string[];
  cookies: readonly string[];
}

const DEFAULT_HEADER = { name: "authorization", prefix: "Bearer " };
const DEFAULT_PARAM = "access_token";

export function buildExtractor(providers: readonly ProviderLocations[]): Extractor {
  const byPlace = new Map<string, { kind: TokenLocation["kind"]; name: string; prefix: string; issuers: Set<string> | null }>();
  const add = (kind: TokenLocation["kind"], name: string, prefix: string, issuer: string): void => {
    const key = `${kind}\u0000${name}\u0000${prefix}`;
    let loc = byPlace.get(key);
    if (!loc) byPlace.set(key, (loc = { kind, name, prefix, issuers: new Set() }));
    if (issuer === "") loc.issuers = null;
    else loc.issuers?.add(issuer);
  };
  for (const p of providers) {
    const useDefaults = p.headers.length === 0 && p.params.length === 0 && p.cookies.length === 0;
    for (const h of useDefaults ? [DEFAULT_HEADER] : p.headers) add("header", h.name.toLowerCase(), h.prefix, p.issuer);
    for (const q of useDefaults ? [DEFAULT_PARAM] : p.params) add("param", q, "", p.issuer);
    for (const c of p.cookies) add("cookie", c, "", p.issuer);
  }
  const order = { header: 0, param: 1, cookie: 2 };
  const locations = [...byPlace.values()].sort((a, b) => order[a.kind] - order[b.kind] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { locations };
}

export function issuerAllowed(loc: TokenLocation, iss: string): boolean {
  return loc.issuers === null || loc.issuers.has(iss);
}

/** The parts of a request tokens are read from; query and cookies are parsed on first use. */
export class RequestView {
  readonly headers: IncomingHttpHeaders;
  readonly path: string;
  private query: Map<string, string> | undefined;
  private cookies: Map<string, string> | undefined;

  constructor(headers: IncomingHttpHeaders, path: string) {
    this.headers = headers;
    this.path = path;
  }

  header(name: string): string | undefined {
    const v = this.headers[name];
    return Array.isArray(v) ? v.join(",") : v;
  }

  param(name: string): string | undefined {
    if (!this.query) {
      this.query = new Map();
      const q = this.path.indexOf("?");
      if (q >= 0) {
        const end = this.path.indexOf("#", q);
        for (const pair of this.path.slice(q + 1, end < 0 ? undefined : end).split("&")) {
          const eq = pair.indexOf("=");
          const k = decode(eq < 0 ? pair : pair.slice(0, eq));
          if (k !== "" && !this.query.has(k)) this.query.set(k, decode(eq < 0 ? "" : pair.slice(eq + 1)));
        }
      }
    }
    return this.query.get(name);
  }

  cookie(name: string): string | undefined {
    if (!this.cookies) {
      this.cookies = new Map();
      const raw = this.header("cookie");
      if (raw) {
        for (const part of raw.split(";")) {
          const eq = part.indexOf("=");
          if (eq < 0) continue;
          const k = part.slice(0, eq).trim();
          let v = part.slice(eq + 1).trim();
          if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
          if (k !== "" && !this.cookies.has(k)) this.cookies.set(k, v);
        }
      }
    }
    return this.cookies.get(name);
  }
}

function decode(s: string): string {
  if (!s.includes("%")) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

// A run of base64url characters and dots (a compact JWT), searched from lastIndex.
const JWT_RUN = /[A-Za-z0-9_.-]+/g;

/** The token after `prefix` in a header value (Envoy's rule), or undefined when the prefix is absent. */
export function tokenAfterPrefix(value: string, prefix: string): string | undefined {
  if (prefix === "") return value;
  const at = value.indexOf(prefix);
  if (at < 0) return undefined;
  JWT_RUN.lastIndex = at + prefix.length;
  const m = JWT_RUN.exec(value);
  return m ? m[0] : value; // nothing token-like: the whole value fails to parse, as in Envoy
}

export function extractTokens(ex: Extractor, req: RequestView): FoundToken[] {
  const out: FoundToken[] = [];
  for (const loc of ex.locations) {
    let token: string | undefined;
    if (loc.kind === "header") {
      const v = req.header(loc.name);
      token = v === undefined ? undefined : tokenAfterPrefix(v, loc.prefix);
    } else if (loc.kind === "param") {
      token = req.param(loc.name);
    } else {
      token = req.cookie(loc.name);
    }
    if (token !== undefined) out.push({ token, location: loc });
  }
  return out;
}

/**
 * A cheap over-approximation of "some location holds a token": header present, "name=" in the
 * query string or in the cookie header. False means extraction would find nothing.
 */
export function mayHaveToken(ex: Extractor, headers: IncomingHttpHeaders, path: string): boolean {
  for (const loc of ex.locations) {
    if (loc.kind === "header") {
      if (headers[loc.name] !== undefined) return true;
    } else if (loc.kind === "param") {
      const q = path.indexOf("?");
      if (q >= 0 && (path.indexOf(loc.name, q) >= 0 || path.indexOf("%", q) >= 0)) return true; // "%": the name may be encoded
    } else {
      const c = headers.cookie;
      if (c !== undefined && c.indexOf(loc.name) >= 0) return true;
    }
  }
  return false;
}
