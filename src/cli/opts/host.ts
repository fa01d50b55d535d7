/**
 * Host-side flags as docker validates them: --ulimit, --add-host, --dns, --restart,
 * --cap-add/--cap-drop, --security-opt, --log-opt, --sysctl, signals.
 */
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import type { RestartPolicy, Ulimit } from "../../api/client/index.ts";
import { goPathError, parseInt64, ValueError } from "./values.ts";

const ULIMITS = new Set([
  "core",
  "cpu",
  "data",
  "fsize",
  "locks",
  "memlock",
  "msgqueue",
  "nice",
  "nofile",
  "nproc",
  "rss",
  "rtprio",
  "rttime",
  "sigpending",
  "stack",
]);

/** `nofile=1024:2048` or `nproc=64` (docker's units.ParseUlimit). */
export function parseUlimit(value: string): Ulimit {
  const eq = value.indexOf("=");
  if (eq < 0) throw new ValueError(`invalid ulimit argument: ${value}`);
  const name = value.slice(0, eq);
  if (!ULIMITS.has(name)) throw new ValueError(`invalid ulimit type: ${name}`);
  const parts = value.slice(eq + 1).split(":");
  if (parts.length > 2)
    throw new ValueError(
      `too many limit value arguments - ${value.slice(eq + 1)}, can only have up to two, \`soft[:hard]\``,
    );
  const soft = parseInt64(parts[0]!);
  const hard = parts[1] === undefined ? soft : parseInt64(parts[1]);
  if (soft > hard)
    throw new ValueError(`ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { Name: name, Hard: hard, Soft: soft };
}

/** `--add-host name:ip` or `name=ip` → `name:ip` (docker's ValidateExtraHost). */
export function parseExtraHost(value: string): string {
  let sep = value.indexOf("=");
  if (sep < 0) sep = value.indexOf(":");
  const k = sep < 0 ? value : value.slice(0, sep);
  let v = sep < 0 ? "" : value.slice(sep + 1);
  if (sep < 0 || k === "" || k.includes(":"))
    throw new ValueError(`bad format for add-host: ${JSON.stringify(value)}`);
  if (v !== "host-gateway") {
    if (v.length > 2 && v.startsWith("[") && v.endsWith("]")) v = v.slice(1, -1);
    if (isIP(v) === 0) throw new ValueError(`invalid IP address in add-host: ${JSON.stringify(v)}`);
  }
  return `${k}:${v}`;
}

/** `--dns` (docker's ValidateIPAddress). */
export function parseIPAddress(value: string): string {
  const ip = value.trim();
  if (isIP(ip) === 0) throw new ValueError(`IP address is not correctly formatted: ${value}`);
  return ip;
}

/** `--restart no|always|unless-stopped|on-failure[:N]` (docker's ParseRestartPolicy). */
export function parseRestartPolicy(value: string): RestartPolicy {
  if (value === "") return { Name: "", MaximumRetryCount: 0 };
  const colon = value.indexOf(":");
  const name = colon < 0 ? value : value.slice(0, colon);
  const count = colon < 0 ? "" : value.slice(colon + 1);
  if (colon >= 0 && name === "")
    throw new ValueError("invalid restart policy format: no policy provided before colon");
  let max = 0;
  if (count !== "") {
    if (!/^[+-]?\d+$/.test(count)) {
      throw new ValueError("invalid restart policy format: maximum retry count must be an integer");
    }
    max = Number(count);
  }
  return { Name: name as RestartPolicy["Name"], MaximumRetryCount: max };
}

const normalizeCap = (c: string) => {
  const u = c.trim().toUpperCase();
  return u === "ALL" || u.startsWith("CAP_") ? u : `CAP_${u}`;
};

/** `--cap-add`/`--cap-drop` as docker 28 sends them: normalized (CAP_ prefix, upper case), deduplicated, sorted. */
export function effectiveCaps(
  add: string[],
  drop: string[],
): { add: string[] | null; drop: string[] | null } {
  const norm = (l: string[]) => [...new Set(l.map(normalizeCap))].sort();
  const a = norm(add);
  const d = norm(drop);
  return { add: a.length ? a : null, drop: d.length ? d : null };
}

/**
 * `--security-opt`: `no-new-privileges`, `key=value` or `key:value`; a seccomp profile
 * that is a file is sent as its compacted JSON, as docker does. `systempaths=unconfined`
 * is taken out and empties MaskedPaths/ReadonlyPaths.
 */
export function parseSecurityOpts(values: string[]): { opts: string[]; unconfinedPaths: boolean } {
  const opts: string[] = [];
  let unconfinedPaths = false;
  for (const opt of values) {
    let sep = opt.indexOf("=");
    if (sep < 0 && opt !== "no-new-privileges") sep = opt.indexOf(":");
    const k = sep < 0 ? opt : opt.slice(0, sep);
    const v = sep < 0 ? "" : opt.slice(sep + 1);
    if ((sep < 0 || v === "") && k !== "no-new-privileges") {
      throw new ValueError(`Invalid --security-opt: ${JSON.stringify(opt)}`);
    }
    if (opt === "systempaths=unconfined") {
      unconfinedPaths = true;
      continue;
    }
    if (k === "seccomp" && v !== "unconfined" && v !== "builtin") {
      let text: string;
      try {
        text = readFileSync(v, "utf8");
      } catch (e) {
        throw new ValueError(`opening seccomp profile (${v}) failed: ${goPathError("open", v, e)}`);
      }
      try {
        opts.push(`seccomp=${JSON.stringify(JSON.parse(text))}`);
      } catch (e) {
        throw new ValueError(`compacting json for seccomp profile (${v}) failed: ${(e as Error).message}`);
      }
      continue;
    }
    opts.push(opt);
  }
  return { opts, unconfinedPaths };
}
