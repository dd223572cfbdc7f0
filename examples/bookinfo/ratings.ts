// Bookinfo's ratings service: stars per reviewer. GET /ratings/:id
import { pathId, sendJson, serve } from "./common.ts";

serve("ratings", 9080, (req, res) => {
  if (req.url === "/health") return sendJson(res, 200, { status: "Ratings is healthy" });
  const id = pathId(req.url, "ratings");
  if (req.method !== "GET" || id === undefined) return sendJson(res, 404, { error: "try GET /ratings/0" });
  const n = Number(id);
  if (!Number.isInteger(n)) return sendJson(res, 400, { error: `product id "${id}" is not a number` });
  sendJson(res, 200, { id: n, ratings: { Reviewer1: 5, Reviewer2: 4 }, podname: process.env.POD_NAME ?? "ratings" });
});
