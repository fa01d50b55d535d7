/**
 * Errors of the Dockerfile front end: every one is a PierError of kind
 * InvalidArgument whose message starts with the file and line, the way
 * people read compiler output:
 *
 *   Dockerfile:7: unknown instruction: RUNN
 *     hint: did you mean RUN?
 *
 * Usage:
 *   throw syntaxError({ file: "Dockerfile", startLine: 7, endLine: 7 }, "unknown instruction: RUNN", "did you mean RUN?");
 */
import { PierError } from "../../common/errors.ts";

/** Where something is in a Dockerfile: 1-based physical lines, inclusive. */
export interface Location {
  file: string;
  startLine: number;
  endLine: number;
}

export function where(loc: Location): string {
  return loc.startLine > 0 ? `${loc.file}:${loc.startLine}` : loc.file;
}

/** An InvalidArgument PierError whose message names the file and line. */
export function syntaxError(loc: Location, message: string, hint?: string, cause?: unknown): PierError {
  const opts: { hint?: string; cause?: unknown } = {};
  if (hint !== undefined) opts.hint = hint;
  if (cause !== undefined) opts.cause = cause;
  return new PierError("InvalidArgument", `${where(loc)}: ${message}`, opts);
}

/** Re-throws `err` with the location in front of its message (kind and hint kept). */
export function atLocation(err: unknown, loc: Location): PierError {
  if (err instanceof PierError) {
    const opts: { hint?: string; cause?: unknown } = { cause: err };
    if (err.hint !== undefined) opts.hint = err.hint;
    return new PierError(err.kind, `${where(loc)}: ${err.message}`, opts);
  }
  const msg = err instanceof Error ? err.message : String(err);
  return syntaxError(loc, msg, undefined, err);
}

/** A plain InvalidArgument error without location (added by the caller with atLocation). */
export function invalid(message: string, hint?: string): PierError {
  return new PierError("InvalidArgument", message, hint === undefined ? {} : { hint });
}

/** The candidate closest to `word` (edit distance at most half its length, or a shared prefix), if any. */
export function suggest(
  word: string,
  candidates: readonly string[],
  caseInsensitive = true,
): string | undefined {
  const norm = (s: string) => (caseInsensitive ? s.toLowerCase() : s);
  const w = norm(word);
  let best: string | undefined;
  let bestDist = Math.max(1, Math.floor(w.length / 2));
  for (const c of candidates) {
    const d = distance(w, norm(c));
    if (d <= bestDist && (best === undefined || d < distance(w, norm(best)))) {
      best = c;
      bestDist = d;
    }
  }
  if (best !== undefined) return best;
  // A near-complete prefix ("retry" for "retries").
  const need = Math.max(3, w.length - 1);
  return candidates.find((c) => commonPrefix(w, norm(c)) >= need);
}

function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] ?? 0;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j] ?? 0;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      prev[j] = Math.min(up + 1, (prev[j - 1] ?? 0) + 1, diag + cost);
      diag = up;
    }
  }
  return prev[b.length] ?? 0;
}
