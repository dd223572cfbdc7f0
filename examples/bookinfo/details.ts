// Bookinfo's details service: facts about a book. GET /details/:id
import { pathId, sendJson, serve } from "./common.ts";

serve("details", 9080, (req, res) => {
  if (req.url === "/health") return sendJson(res, 200, { status: "Details is healthy" });
  const id = pathId(req.url, "details");
  if (req.method !== "GET" || id === undefined) return sendJson(res, 404, { error: "try GET /details/0" });
  const n = Number(id);
  if (!Number.isInteger(n)) return sendJson(res, 400, { error: `book id "${id}" is not a number` });
  sendJson(res, 200, {
    id: n,
    author: "William Shakespeare",
    year: 1595,
    type: "paperback",
    pages: 200,
    publisher: "PublisherA",
    language: "English",
    "ISBN-10": "1234567890",
    "ISBN-13": "123-1234567890",
  });
});
