// Reads Node's `subjectaltname` text ("DNS:a.example, URI:spiffe://td/ns/x/sa/y, IP Address:10.0.0.1").
// Since Node 17 a value holding a comma, a quote or another special character is printed as a
// JSON string (URI:"spiffe://a,b"), so splitting on ", " alone would let a crafted name inject a
// second entry; this reader honours the quoting.

export interface AltName {
  /** "DNS", "URI", "IP Address", "email", ... as Node prints it. */
  type: string;
  value: string;
}

export function parseSubjectAltNames(text: string | undefined): AltName[] {
  const out: AltName[] = [];
  if (!text) return out;
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(":", i);
    if (colon < 0) break;
    const type = text.slice(i, colon);
    let j = colon + 1;
    let value: string;
    if (text[j] === '"') {
      let k = j + 1;
      while (k < text.length && text[k] !== '"') k += text[k] === "\\" ? 2 : 1;
      try {
        value = JSON.parse(text.slice(j, k + 1)) as string;
      } catch {
        return out; // malformed quoting: trust nothing after it
      }
      j = k + 1;
    } else {
      const end = text.indexOf(", ", j);
      value = text.slice(j, end < 0 ? text.length : end);
      j = end < 0 ? text.length : end;
    }
    out.push({ type, value });
    if (text.startsWith(", ", j)) j += 2;
    else if (j < text.length) return out;
    i = j;
  }
  return out;
}

/** The URI SANs among `text`'s names. */
export function uriSansOf(text: string | undefined): string[] {
  return parseSubjectAltNames(text)
    .filter((n) => n.type === "URI")
    .map((n) => n.value);
}
