/** docker's go-units: human sizes (decimal, 3 significant digits) and durations. */
const UNITS = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];

export function humanSize(bytes: number, precision = 3): string {
  let size = bytes;
  let i = 0;
  while (size >= 1000 && i < UNITS.length - 1) {
    size /= 1000;
    i++;
  }
  return `${Number(size.toPrecision(precision))}${UNITS[i]!}`;
}

/** Binary sizes (KiB, MiB): for progress bars, as docker's jsonmessage prints them. */
export function bytesSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let size = bytes;
  let i = 0;
  while (size >= 1024 && i < units.length - 1) {
    size /= 1024;
    i++;
  }
  return `${Number(size.toPrecision(4))}${units[i]!}`;
}

/** go-units HumanDuration. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return "Less than a second";
  if (seconds === 1) return "1 second";
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(seconds / 60);
  if (minutes === 1) return "About a minute";
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.floor(ms / 3_600_000 + 0.5);
  if (hours === 1) return "About an hour";
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(hours / 24 / 365)} years`;
}

export const since = (unixSeconds: number, now = Date.now()): string =>
  `${humanDuration(now - unixSeconds * 1000)} ago`;

/** Go's time.Time String() in UTC: "2024-01-01 00:00:00 +0000 UTC". */
export function goTime(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000).toISOString();
  return `${d.slice(0, 10)} ${d.slice(11, 19)} +0000 UTC`;
}

/** docker's stringid.TruncateID: drop the algorithm, keep 12 hex digits. */
export function shortId(id: string): string {
  const i = id.indexOf(":");
  return (i >= 0 ? id.slice(i + 1) : id).slice(0, 12);
}

/** docker's Ellipsis: cut to n characters, the last being "…". */
export function ellipsis(s: string, n: number): string {
  const chars = [...s];
  return chars.length <= n ? s : chars.slice(0, n - 1).join("") + "…";
}
