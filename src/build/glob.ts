/**
 * Go's `filepath.Match` and `filepath.Clean`, which Docker's COPY/ADD
 * wildcards and .dockerignore syntax checks are built on:
 *
 *   *        any run of characters except `/` (dot files included)
 *   ?        one character except `/`
 *   [a-z]    a class; `[^a-z]` negated; `\` escapes inside and outside
 *
 * A malformed pattern (unclosed `[`, trailing `\`, empty class) is an
 * InvalidArgument error, as Go's ErrBadPattern.
 *
 * Usage:
 *   globMatch("*.txt", "notes.txt")  // true
 *   cleanPath("a//b/../c/")          // "a/c"
 */
import { PierError } from "../common/errors.ts";

const bad = (pattern: string) =>
  new PierError("InvalidArgument", `syntax error in pattern ${JSON.stringify(pattern)}`, {
    hint: "check the [ ] classes and \\ escapes in it",
  });

/** Whether `name` matches the whole of `pattern`. */
export function globMatch(pattern: string, name: string): boolean {
  let pat = Array.from(pattern);
  let s = Array.from(name);
  const err = () => bad(pattern);
  outer: while (pat.length > 0) {
    const { star, chunk, rest } = scanChunk(pat);
    pat = rest;
    if (star && chunk.length === 0) return !s.includes("/");
    const first = matchChunk(chunk, s, err);
    if (first !== null && (first.length === 0 || pat.length > 0)) {
      s = first;
      continue;
    }
    if (star) {
      for (let i = 0; i < s.length && s[i] !== "/"; i++) {
        const t = matchChunk(chunk, s.slice(i + 1), err);
        if (t !== null) {
          if (pat.length === 0 && t.length > 0) continue;
          s = t;
          continue outer;
        }
      }
    }
    // No match: still report a malformed remainder, as Go does.
    while (pat.length > 0) {
      const next = scanChunk(pat);
      pat = next.rest;
      matchChunk(next.chunk, [], err);
    }
    return false;
  }
  return s.length === 0;
}

/** Throws when `pattern` is malformed. */
export function checkGlob(pattern: string): void {
  globMatch(pattern, ".");
}

/** Whether a path holds wildcard characters (`*`, `?`, `[`) not escaped by `\`. */
export function hasWildcards(p: string): boolean {
  for (let i = 0; i < p.length; i++) {
    const ch = p[i];
    if (ch === "\\") i++;
    else if (ch === "*" || ch === "?" || ch === "[") return true;
  }
  return false;
}

function scanChunk(pat: string[]): { star: boolean; chunk: string[]; rest: string[] } {
  let i = 0;
  let star = false;
  while (pat[i] === "*") {
    i++;
    star = true;
  }
  const start = i;
  let inRange = false;
  for (; i < pat.length; i++) {
    const c = pat[i];
    if (c === "\\") {
      if (i + 1 < pat.length) i++;
    } else if (c === "[") {
      inRange = true;
    } else if (c === "]") {
      inRange = false;
    } else if (c === "*" && !inRange) {
      break;
    }
  }
  return { star, chunk: pat.slice(start, i), rest: pat.slice(i) };
}

/** Matches `chunk` at the start of `s`: the rest of `s`, or null. */
function matchChunk(chunk: string[], s: string[], err: () => PierError): string[] | null {
  let failed = false;
  let c = 0;
  let i = 0;
  while (c < chunk.length) {
    if (!failed && i >= s.length) failed = true;
    const ch = chunk[c] as string;
    if (ch === "[") {
      const r = failed ? undefined : s[i++];
      c++;
      let negated = false;
      if (chunk[c] === "^") {
        negated = true;
        c++;
      }
      let match = false;
      let n = 0;
      for (;;) {
        if (chunk[c] === "]" && n > 0) {
          c++;
          break;
        }
        const lo = getEsc(chunk, c, err);
        c = lo.next;
        let hi = lo.ch;
        if (chunk[c] === "-") {
          const h = getEsc(chunk, c + 1, err);
          c = h.next;
          hi = h.ch;
        }
        if (r !== undefined && cp(lo.ch) <= cp(r) && cp(r) <= cp(hi)) match = true;
        n++;
      }
      if (match === negated) failed = true;
    } else if (ch === "?") {
      if (!failed) {
        if (s[i] === "/") failed = true;
        i++;
      }
      c++;
    } else {
      let lit = ch;
      if (ch === "\\") {
        c++;
        if (c >= chunk.length) throw err();
        lit = chunk[c] as string;
      }
      if (!failed) {
        if (s[i] !== lit) failed = true;
        i++;
      }
      c++;
    }
  }
  return failed ? null : s.slice(i);
}

const cp = (c: string): number => c.codePointAt(0) ?? 0;

function getEsc(chunk: string[], at: number, err: () => PierError): { ch: string; next: number } {
  let i = at;
  const first = chunk[i];
  if (first === undefined || first === "-" || first === "]") throw err();
  if (first === "\\") {
    i++;
    if (i >= chunk.length) throw err();
  }
  const ch = chunk[i] as string;
  i++;
  if (i >= chunk.length) throw err();
  return { ch, next: i };
}

/** Go's path.Clean: no empty, `.` or inner `..` elements, no trailing slash; "" becomes ".". */
export function cleanPath(p: string): string {
  if (p === "") return ".";
  const rooted = p.startsWith("/");
  const out: string[] = [];
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
      else if (!rooted) out.push("..");
      continue;
    }
    out.push(part);
  }
  const joined = out.join("/");
  if (rooted) return "/" + joined;
  return joined === "" ? "." : joined;
}
