/**
 * Docker Engine API versions. pierd advertises API_VERSION in /_ping; a request may carry
 * any `/vX.Y` prefix at or above MIN_API_VERSION (older ones are refused with docker's
 * message) or none at all (it then gets API_VERSION). A request above API_VERSION is
 * served as API_VERSION: the docker CLI never asks for more than the ping advertised.
 */
export const API_VERSION = "1.43";
export const MIN_API_VERSION = "1.24";

/** Compares two "X.Y" versions numerically: <0, 0, >0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export const minVersion = (a: string, b: string): string => (compareVersions(a, b) <= 0 ? a : b);
