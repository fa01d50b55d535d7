/**
 * Go's duration syntax (what HEALTHCHECK --interval and friends accept):
 * a sequence of decimal numbers with units `ns`, `us`/`µs`, `ms`, `s`, `m`,
 * `h`, optionally signed; `0` alone needs no unit.
 *
 * Usage:
 *   parseDuration("1m30s")  // 90_000_000_000 (nanoseconds)
 */
import { invalid } from "./errors.ts";

const UNITS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  "\u00b5s": 1e3,
  "\u03bcs": 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Nanoseconds; throws InvalidArgument with Go's wording on bad input. */
export function parseDuration(s: string): number {
  const bad = () =>
    invalid(`time: invalid duration ${JSON.stringify(s)}`, 'use a number with a unit, e.g. "30s" or "1m30s"');
  let rest = s;
  let sign = 1;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    if (rest[0] === "-") sign = -1;
    rest = rest.slice(1);
  }
  if (rest === "0") return 0;
  if (rest === "") throw bad();
  let total = 0;
  while (rest !== "") {
    const m = /^(\d*)(?:\.(\d*))?/.exec(rest);
    const whole = m?.[1] ?? "";
    const frac = m?.[2];
    if (whole === "" && (frac === undefined || frac === "")) throw bad();
    rest = rest.slice(m?.[0].length ?? 0);
    const u = /^[^\d.]+/.exec(rest)?.[0];
    if (u === undefined)
      throw invalid(`time: missing unit in duration ${JSON.stringify(s)}`, 'add a unit, e.g. "30s"');
    const scale = UNITS[u];
    if (scale === undefined) {
      throw invalid(
        `time: unknown unit ${JSON.stringify(u)} in duration ${JSON.stringify(s)}`,
        "units are ns, us, ms, s, m, h",
      );
    }
    rest = rest.slice(u.length);
    total += Number(`${whole || "0"}.${frac ?? "0"}`) * scale;
  }
  return sign * Math.round(total);
}

/** A duration in nanoseconds written the way Go prints it (`1m30s`, `500ms`, `0s`). */
export function formatDuration(ns: number): string {
  if (ns === 0) return "0s";
  const neg = ns < 0;
  let n = Math.abs(ns);
  if (n < 1e3) return `${neg ? "-" : ""}${n}ns`;
  if (n < 1e6) return `${neg ? "-" : ""}${trim(n / 1e3)}µs`;
  if (n < 1e9) return `${neg ? "-" : ""}${trim(n / 1e6)}ms`;
  let out = "";
  const h = Math.floor(n / 3600e9);
  n -= h * 3600e9;
  const m = Math.floor(n / 60e9);
  n -= m * 60e9;
  if (h) out += `${h}h`;
  if (h || m) out += `${m}m`;
  out += `${trim(n / 1e9)}s`;
  return (neg ? "-" : "") + out;
}

const trim = (x: number): string => String(Number(x.toFixed(9)));
