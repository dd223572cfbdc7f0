// Istio (and Envoy) compile match regexes with RE2. RE2 has no lookaround, backreferences,
// atomic groups or possessive quantifiers; a JavaScript engine accepts those, so we reject them
// explicitly before asking JavaScript whether the rest is well-formed.

/** Returns an error sentence when `pattern` would not compile under RE2, else null. */
export function re2Error(pattern: unknown): string | null {
  if (typeof pattern !== "string") return "regex must be a string";
  if (pattern.length > 4096) return "regex is longer than 4096 characters; simplify it";
  const unsupported = findUnsupported(pattern);
  if (unsupported) return `regex "${clip(pattern)}" uses ${unsupported}, which RE2 (the regex engine Istio and Envoy use) does not support; rewrite it without it`;
  try {
    new RegExp(toJsSyntax(pattern));
  } catch (e) {
    return `regex "${clip(pattern)}" does not compile: ${((e as Error).message.split(": ").pop() ?? "").trim()}`;
  }
  return null;
}

function findUnsupported(p: string): string | null {
  let inClass = false;
  let prevQuantifier = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === "\\") {
      const n = p[i + 1] ?? "";
      if (!inClass && /[1-9]/.test(n)) return `a backreference (\\${n})`;
      if (!inClass && n === "k" && p[i + 2] === "<") return "a named backreference (\\k<...>)";
      i++;
      prevQuantifier = false;
      continue;
    }
    if (inClass) {
      if (c === "]") inClass = false;
      continue;
    }
    if (c === "[") {
      inClass = true;
      if (p[i + 1] === "^") i++;
      if (p[i + 1] === "]") i++;
      prevQuantifier = false;
      continue;
    }
    if (c === "(" && p[i + 1] === "?") {
      const rest = p.slice(i + 2, i + 4);
      if (rest.startsWith("=") || rest.startsWith("!")) return "a lookahead ((?=...) or (?!...))";
      if (rest === "<=" || rest === "<!") return "a lookbehind ((?<=...) or (?<!...))";
      if (rest.startsWith(">")) return "an atomic group ((?>...))";
    }
    if (c === "+" && prevQuantifier) return "a possessive quantifier (such as a++ or a*+)";
    prevQuantifier = c === "*" || c === "+" || c === "?" || c === "}";
    // "a+?" is a lazy quantifier (fine in RE2); what follows it is not a quantifier.
    if (c === "?" && i > 0 && /[*+?}]/.test(p[i - 1]!)) prevQuantifier = false;
  }
  return null;
}

/** Rewrites RE2-only syntax that JavaScript spells differently, for the syntax check only. */
function toJsSyntax(p: string): string {
  return p
    .replace(/\(\?P</g, "(?<")
    .replace(/^\(\?[imsU]+\)/, "")
    .replace(/\(\?[imsU]+:/g, "(?:")
    .replace(/\\A/g, "^")
    .replace(/\\z/g, "$");
}

function clip(s: string): string {
  return s.length > 50 ? `${s.slice(0, 47)}...` : s;
}
