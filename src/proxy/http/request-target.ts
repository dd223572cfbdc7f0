// Where a request goes: in explicit proxy mode clients send the absolute form
// ("GET http://reviews:9080/path"), so the authority comes from the URI, else from Host.
export interface RequestTarget {
  authority: string;
  /** Path without query. */
  path: string;
  /** Query without "?", "" when none. */
  query: string;
}

function splitPath(pathAndQuery: string): { path: string; query: string } {
  const q = pathAndQuery.indexOf("?");
  return q < 0 ? { path: pathAndQuery, query: "" } : { path: pathAndQuery.slice(0, q), query: pathAndQuery.slice(q + 1) };
}

/** undefined when the target is not something a proxy can forward. */
export function parseRequestTarget(url: string, host: string | undefined): RequestTarget | undefined {
  if (url.charCodeAt(0) === 47 /* "/" */) {
    const { path, query } = splitPath(url);
    return { authority: host ?? "", path, query };
  }
  const lower = url.slice(0, 8).toLowerCase();
  const skip = lower.startsWith("http://") ? 7 : lower.startsWith("https://") ? 8 : -1;
  if (skip < 0) return undefined;
  let end = skip;
  while (end < url.length && url[end] !== "/" && url[end] !== "?") end++;
  const authority = url.slice(skip, end);
  if (!authority) return undefined;
  const rest = url.slice(end);
  const { path, query } = splitPath(rest.startsWith("/") ? rest : `/${rest}`);
  // userinfo ("user@host") is not forwarded
  const at = authority.lastIndexOf("@");
  return { authority: at >= 0 ? authority.slice(at + 1) : authority, path, query };
}
