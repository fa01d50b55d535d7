/**
 * Environment and label flags: `-e NAME=value` / `-e NAME` (taken from our environment if
 * set), `--env-file`, `-l`, `--label-file`, read as docker's opts.ParseEnvFile does
 * (comments, whitespace rules, a line without `=` looked up in the environment for env
 * files and dropped for label files).
 */
import { readFileSync } from "node:fs";
import { goPathError, ValueError } from "./values.ts";

export type EnvLookup = (name: string) => string | undefined;

/** Reads a KEY=VALUE file; `lookup` resolves lines that are just a name (undefined: dropped). */
export function readKVFile(path: string, lookup: EnvLookup | undefined): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ValueError(goPathError("open", path, e));
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const out: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/^\s+/, "");
    if (line === "" || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    const variable = (eq < 0 ? line : line.slice(0, eq)).replace(/^[ \t\n\v\f\r]+/, "");
    if (/[ \t\n\v\f\r]/.test(variable)) {
      throw new ValueError(`poorly formatted environment: variable '${variable}' contains whitespaces`);
    }
    if (variable === "")
      throw new ValueError(`poorly formatted environment: no variable name on line '${line}'`);
    if (eq >= 0) out.push(`${variable}=${line.slice(eq + 1)}`);
    else {
      const v = lookup?.(line);
      if (v !== undefined) out.push(`${variable.trim()}=${v}`);
    }
  }
  return out;
}

/** `-e` (docker's ValidateEnv): `NAME` alone takes our value when we have one. */
export function validateEnv(value: string, lookup: EnvLookup): string {
  const eq = value.indexOf("=");
  if (eq === 0) throw new ValueError(`invalid environment variable: ${value}`);
  if (value.trim() === "") throw new ValueError(`invalid environment variable: ${value}`);
  if (eq > 0) return value;
  const v = lookup(value);
  return v === undefined ? value : `${value}=${v}`;
}

/** `-l` (docker's ValidateLabel). */
export function validateLabel(value: string): string {
  const eq = value.indexOf("=");
  const name = eq < 0 ? value : value.slice(0, eq);
  if (name.trim() === "") throw new ValueError(`invalid label '${value}': empty name`);
  if (/\s/.test(name)) throw new ValueError(`label '${value}' contains whitespaces`);
  return value;
}

/**
 * KEY=VALUE list → map (docker's ConvertKVStringsToMap: a bare key maps to ""), keys in
 * sorted order as Go marshals a map.
 */
export function kvMap(list: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list) {
    const eq = kv.indexOf("=");
    if (eq < 0) out[kv] = "";
    else out[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
