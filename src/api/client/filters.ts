/**
 * docker's `filters` query parameter: `{"status":{"exited":true},"label":{"a=b":true}}`
 * (filters.Args marshalled as a map of sets), or nothing when there are no filters.
 */
export type Filters = Record<string, string[]>;

export function filtersParam(f: Filters | undefined): string | undefined {
  if (!f) return undefined;
  const keys = Object.keys(f).filter((k) => (f[k] ?? []).length > 0);
  if (keys.length === 0) return undefined;
  const o: Record<string, Record<string, boolean>> = {};
  for (const k of keys.sort()) {
    const set: Record<string, boolean> = {};
    for (const v of [...(f[k] ?? [])].sort()) set[v] = true;
    o[k] = set;
  }
  return JSON.stringify(o);
}

/** Parses `name=value` filter flags (`--filter status=exited`) into Filters. */
export function parseFilterFlags(flags: string[]): Filters {
  const out: Filters = {};
  for (const f of flags) {
    const eq = f.indexOf("=");
    if (eq <= 0) throw new Error(`bad format of filter (expected name=value)`);
    (out[f.slice(0, eq).trim().toLowerCase()] ??= []).push(f.slice(eq + 1).trim());
  }
  return out;
}
