/**
 * `RUN --mount=...` values: comma-separated `key=value` fields (CSV quoting
 * allowed), as BuildKit reads them. Parsed so that stage dependencies
 * (`from=`) are known and bad options are reported early; whether the
 * executor supports a mount type is its own decision.
 *
 * Usage:
 *   parseMount("type=cache,target=/root/.cache,id=pip")
 *     // { type: "cache", target: "/root/.cache", id: "pip", readonly: false }
 */
import { invalid, suggest } from "./errors.ts";

export type MountType = "bind" | "cache" | "tmpfs" | "secret" | "ssh";
const TYPES: readonly MountType[] = ["bind", "cache", "tmpfs", "secret", "ssh"];
const KEYS = [
  "type",
  "from",
  "source",
  "src",
  "target",
  "dst",
  "destination",
  "readonly",
  "ro",
  "readwrite",
  "rw",
  "id",
  "sharing",
  "required",
  "size",
  "mode",
  "uid",
  "gid",
  "env",
];

export interface Mount {
  type: MountType;
  /** A stage name or index, or an image (bind and cache mounts). */
  from?: string;
  source?: string;
  target?: string;
  readonly: boolean;
  /** Cache id (cache), secret id (secret), ssh id (ssh). */
  id?: string;
  sharing?: "shared" | "private" | "locked";
  required?: boolean;
  /** tmpfs size in bytes. */
  size?: number;
  mode?: number;
  uid?: number;
  gid?: number;
  /** Secret exposed as this environment variable. */
  env?: string;
}

/** Splits one CSV record (`"a,b",c` → [`a,b`, `c`]). */
export function csvFields(s: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  let wasQuoted = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i] as string;
    if (quoted) {
      if (ch === '"') {
        if (s[i + 1] === '"') {
          cur += '"';
          i++;
        } else {
          quoted = false;
        }
      } else {
        cur += ch;
      }
    } else if (ch === '"' && (cur === "" || cur.endsWith("=")) && !wasQuoted) {
      quoted = true;
      wasQuoted = true;
    } else if (ch === ",") {
      out.push(cur);
      cur = "";
      wasQuoted = false;
    } else {
      cur += ch;
    }
  }
  if (quoted) throw invalid(`failed to parse csv mounts: extraneous or missing " in quoted-field: ${s}`);
  out.push(cur);
  return out;
}

const parseBool = (key: string, v: string): boolean => {
  const l = v.toLowerCase();
  if (["1", "t", "true"].includes(l)) return true;
  if (["0", "f", "false"].includes(l)) return false;
  throw invalid(`invalid value for ${key}: ${v}`);
};

const SIZE = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?$/i;

/** Parses a --mount value; `expand` (when given) is applied to each value first. */
export function parseMount(value: string, expand?: (word: string) => string): Mount {
  const m: Mount = { type: "bind", readonly: true };
  let roAuto = true;
  for (const field of csvFields(value)) {
    const eq = field.indexOf("=");
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    if (eq < 0) {
      if (key === "readonly" || key === "ro") {
        m.readonly = true;
        roAuto = false;
      } else if (key === "readwrite" || key === "rw") {
        m.readonly = false;
        roAuto = false;
      } else if (key === "required" && (m.type === "secret" || m.type === "ssh")) {
        m.required = true;
      } else if (key === "required") {
        throw invalid(`unexpected key '${key}' for mount type '${m.type}'`);
      } else {
        throw invalid(`invalid field '${field}' must be a key=value pair`);
      }
      continue;
    }
    let v = field.slice(eq + 1);
    if (expand) v = expand(v);
    switch (key) {
      case "type": {
        const t = v.toLowerCase() as MountType;
        if (!TYPES.includes(t)) {
          const close = suggest(v, TYPES);
          throw invalid(
            `unsupported mount type ${JSON.stringify(v)}`,
            close ? `did you mean ${close}?` : `mount types are ${TYPES.join(", ")}`,
          );
        }
        m.type = t;
        break;
      }
      case "from":
        m.from = v;
        break;
      case "source":
      case "src":
        m.source = v;
        break;
      case "target":
      case "dst":
      case "destination":
        m.target = v;
        break;
      case "readonly":
      case "ro":
        m.readonly = parseBool(key, v);
        roAuto = false;
        break;
      case "readwrite":
      case "rw":
        m.readonly = !parseBool(key, v);
        roAuto = false;
        break;
      case "required":
        if (m.type !== "secret" && m.type !== "ssh")
          throw invalid(`unexpected key '${key}' for mount type '${m.type}'`);
        m.required = parseBool(key, v);
        break;
      case "size": {
        if (m.type !== "tmpfs") throw invalid(`unexpected key '${key}' for mount type '${m.type}'`);
        const s = SIZE.exec(v);
        if (!s) throw invalid(`invalid value for ${key}: ${v}`);
        const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }[
          (s[2] ?? "").toLowerCase() as "" | "k" | "m" | "g" | "t" | "p"
        ];
        m.size = Math.floor(Number(s[1]) * mult);
        break;
      }
      case "id":
        m.id = v;
        break;
      case "sharing": {
        const sh = v.toLowerCase();
        if (sh !== "shared" && sh !== "private" && sh !== "locked") {
          throw invalid(
            `unsupported sharing value ${JSON.stringify(v)}`,
            "sharing is shared, private or locked",
          );
        }
        m.sharing = sh;
        break;
      }
      case "mode":
        if (!/^[0-7]+$/.test(v)) throw invalid(`invalid value ${v} for mode`);
        m.mode = Number.parseInt(v, 8);
        break;
      case "uid":
      case "gid":
        if (!/^\d+$/.test(v) || Number(v) > 0xffffffff) throw invalid(`invalid value ${v} for ${key}`);
        m[key] = Number(v);
        break;
      case "env":
        m.env = v;
        break;
      default: {
        const close = suggest(key, KEYS);
        throw invalid(`unexpected key '${key}' in '${field}'`, close ? `did you mean ${close}?` : undefined);
      }
    }
  }
  const fileInfoAllowed = m.type === "secret" || m.type === "ssh" || m.type === "cache";
  if (!fileInfoAllowed) {
    for (const k of ["mode", "uid", "gid"] as const) {
      if (m[k] !== undefined) throw invalid(`${k} not allowed for ${JSON.stringify(m.type)} type mounts`);
    }
  }
  if (roAuto) m.readonly = !(m.type === "cache" || m.type === "tmpfs");
  if (m.type === "secret" || m.type === "ssh") {
    if (m.type === "secret" && [m.id, m.source, m.target, m.env].every((x) => x === undefined)) {
      throw invalid("one of source, target, env is required for a secret mount");
    }
  } else if (m.target === undefined) {
    throw invalid(`mount type ${m.type} requires a target`, "add target=/path/in/container");
  }
  return m;
}
