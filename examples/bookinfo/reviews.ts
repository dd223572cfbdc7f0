// Bookinfo's reviews service, in three versions picked by SERVICE_VERSION:
//   v1: reviews only; v2: with black stars from ratings; v3: with red stars.
// Every answer names its version and pod, so which one served a request is visible.
import { forwardedHeaders, getJson, pathId, sendJson, serve } from "./common.ts";

const version = process.env.SERVICE_VERSION ?? "v1";
const podname = process.env.POD_NAME ?? `reviews-${version}`;
const ratingsUrl = process.env.RATINGS_URL ?? "http://ratings:9080";
const starColor = version === "v2" ? "black" : version === "v3" ? "red" : undefined;

if (!["v1", "v2", "v3"].includes(version)) {
  console.error(`reviews: SERVICE_VERSION "${version}" is not v1, v2 or v3; using v1 behaviour`);
}

const REVIEWS = [
  { reviewer: "Reviewer1", text: "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!" },
  { reviewer: "Reviewer2", text: "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare." },
];

interface Ratings {
  ratings: Record<string, number>;
}

serve(`reviews ${version}`, 9080, async (req, res) => {
  if (req.url === "/health") return sendJson(res, 200, { status: "Reviews is healthy" });
  const id = pathId(req.url, "reviews");
  if (req.method !== "GET" || id === undefined) return sendJson(res, 404, { error: "try GET /reviews/0" });
  const base = { id, podname, clustername: "null", version };
  if (!starColor) {
    return sendJson(res, 200, { ...base, reviews: REVIEWS.map((r) => ({ ...r })) });
  }
  const ratings = await getJson<Ratings>(`${ratingsUrl}/ratings/${encodeURIComponent(id)}`, forwardedHeaders(req));
  const reviews = REVIEWS.map((r) => {
    if (!ratings.ok) return { ...r, rating: { error: `Ratings service is currently unavailable (${ratings.status || "no answer"}: ${ratings.error})` } };
    const stars = ratings.body?.ratings?.[r.reviewer];
    return { ...r, rating: typeof stars === "number" ? { stars, color: starColor } : { error: "no rating" } };
  });
  sendJson(res, 200, { ...base, reviews });
});
