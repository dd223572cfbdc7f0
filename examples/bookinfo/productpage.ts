// Bookinfo's front page. Calls details and reviews (which may call ratings) through the
// sidecar, passing on the tracing headers and the signed-in user ("end-user"), so header-match
// routing (jason -> reviews v2) shows. A failed call is shown on the page, never a crash.
//   GET / or /productpage[?u=jason]      HTML
//   GET /api/v1/products                 the product list
//   GET /api/v1/products/:id             JSON: details and reviews of one product
import type http from "node:http";
import { forwardedHeaders, getJson, pathId, sendJson, serve, type CallResult } from "./common.ts";

const detailsUrl = process.env.DETAILS_URL ?? "http://details:9080";
const reviewsUrl = process.env.REVIEWS_URL ?? "http://reviews:9080";
const PRODUCTS = [{ id: 0, title: "The Comedy of Errors", descriptionHtml: "A comedy by William Shakespeare about two pairs of identical twins separated at birth." }];

interface Review {
  reviewer: string;
  text: string;
  rating?: { stars?: number; color?: string; error?: string };
}
interface Reviews {
  version: string;
  podname: string;
  reviews: Review[];
}

function cookie(req: http.IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return decodeURIComponent(v.join("="));
  }
  return undefined;
}

/** The signed-in user: ?u=NAME (also remembered in a cookie), else the end-user header or cookie. */
function endUser(req: http.IncomingMessage, query: URLSearchParams): string | undefined {
  if (query.has("u")) return query.get("u") || undefined;
  const header = req.headers["end-user"];
  if (typeof header === "string" && header) return header;
  return cookie(req, "end-user") || cookie(req, "user") || undefined;
}

async function fetchProduct(id: number, headers: Record<string, string>) {
  const [details, reviews] = await Promise.all([
    getJson<Record<string, unknown>>(`${detailsUrl}/details/${id}`, headers),
    getJson<Reviews>(`${reviewsUrl}/reviews/${id}`, headers),
  ]);
  return { details, reviews };
}

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function failure(what: string, r: CallResult<unknown>): string {
  return `<p class="error">Error fetching ${what}: ${r.status ? `HTTP ${r.status}` : "no answer"}: ${esc(r.error)}</p>`;
}

function stars(review: Review): string {
  const r = review.rating;
  if (!r) return "";
  if (r.error) return `<span class="error">${esc(r.error)}</span>`;
  const n = Math.max(0, Math.min(5, r.stars ?? 0));
  return `<span class="stars" style="color:${esc(r.color ?? "black")}">${"★".repeat(n)}${"☆".repeat(5 - n)}</span> (${n} ${esc(r.color ?? "")} stars)`;
}

function page(user: string | undefined, details: CallResult<Record<string, unknown>>, reviews: CallResult<Reviews>): string {
  const product = PRODUCTS[0]!;
  const detailsHtml = details.ok && details.body
    ? `<dl>${Object.entries(details.body).filter(([k]) => k !== "id").map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("")}</dl>`
    : failure("product details", details);
  const reviewsHtml = reviews.ok && reviews.body
    ? `<p class="served-by">Reviews served by: <b>${esc(reviews.body.podname)}</b> (version <b>${esc(reviews.body.version)}</b>)</p>` +
      reviews.body.reviews.map((r) => `<blockquote><p>${esc(r.text)}</p><small>${esc(r.reviewer)}</small> ${stars(r)}</blockquote>`).join("")
    : failure("product reviews", reviews);
  const who = user
    ? `Signed in as <b>${esc(user)}</b> (<a href="?u=">sign out</a>)`
    : `Not signed in (<a href="?u=jason">sign in as jason</a>)`;
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Bookinfo: ${esc(product.title)}</title>
<style>body{font-family:sans-serif;max-width:50em;margin:2em auto} .error{color:#b00} .stars{font-size:1.3em} dt{font-weight:bold}</style></head>
<body>
<p>${who}</p>
<h1>${esc(product.title)}</h1>
<p>${product.descriptionHtml}</p>
<h2>Book details</h2>
${detailsHtml}
<h2>Book reviews</h2>
${reviewsHtml}
</body></html>
`;
}

serve("productpage", 9080, async (req, res) => {
  const url = new URL(req.url ?? "/", "http://productpage");
  if (url.pathname === "/health") return sendJson(res, 200, { status: "Productpage is healthy" });
  if (req.method !== "GET") return sendJson(res, 405, { error: "only GET" });
  const user = endUser(req, url.searchParams);
  const headers = forwardedHeaders(req);
  delete headers["end-user"];
  if (user) headers["end-user"] = user;

  if (url.pathname === "/api/v1/products") return sendJson(res, 200, PRODUCTS.map(({ id, title }) => ({ id, title })));
  const apiId = pathId(url.pathname, "api/v1/products");
  if (apiId !== undefined) {
    const id = Number(apiId);
    if (!PRODUCTS.some((p) => p.id === id)) return sendJson(res, 404, { error: `no product ${apiId}` });
    const { details, reviews } = await fetchProduct(id, headers);
    return sendJson(res, 200, {
      id,
      title: PRODUCTS[0]!.title,
      details: details.ok ? details.body : { error: details.error, status: details.status },
      reviews: reviews.ok ? reviews.body : { error: reviews.error, status: reviews.status },
    });
  }
  if (url.pathname !== "/" && url.pathname !== "/productpage") return sendJson(res, 404, { error: "try GET /productpage" });
  const { details, reviews } = await fetchProduct(0, headers);
  const cookieHeader = url.searchParams.has("u")
    ? { "set-cookie": user ? `end-user=${encodeURIComponent(user)}; Path=/; SameSite=Lax` : "end-user=; Path=/; Max-Age=0" }
    : {};
  res.writeHead(200, { "content-type": "text/html; charset=utf-8", ...cookieHeader });
  res.end(page(user, details, reviews));
});
