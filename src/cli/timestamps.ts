/**
 * docker's GetTimestamp for `--since`/`--until` (logs, events): a Go duration ("10m") is
 * that long before now, in unix seconds; an RFC 3339-like date ("2024-01-01",
 * "2024-01-01T10:00", with or without a zone; local time without one) becomes
 * "seconds.nanoseconds"; a unix timestamp passes through.
 */
import { parseDuration, ValueError } from "./opts/values.ts";

export function getTimestamp(value: string, now = Date.now()): string {
  if (value !== "0") {
    try {
      const ns = parseDuration(value);
      return String(Math.floor((now - ns / 1e6) / 1000));
    } catch {
      // not a duration
    }
  }
  if (value.includes("-")) {
    let v = value;
    if (/^\d{4}-\d{2}-\d{2}$/.test(v)) v += "T00:00:00";
    else if (/T\d{2}$/.test(v)) v += ":00";
    const t = Date.parse(v);
    if (Number.isNaN(t)) throw new ValueError(`parsing time "${value}": cannot parse`);
    const frac = /\.(\d+)/.exec(v)?.[1] ?? "";
    const nanos = (frac + "000000000").slice(0, 9);
    return `${Math.floor(t / 1000)}.${nanos}`;
  }
  if (/^\d+(\.\d+)?$/.test(value)) return value;
  throw new ValueError(`failed to parse value as time or duration: "${value}"`);
}
