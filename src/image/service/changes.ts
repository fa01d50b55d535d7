/**
 * `--change` instructions (docker commit / docker import): the Dockerfile
 * instructions that only change the config. Supported: CMD, ENTRYPOINT, ENV,
 * LABEL, WORKDIR, USER, EXPOSE, VOLUME, STOPSIGNAL; anything else is refused
 * by name, as docker does.
 */
import { invalid, notImplemented } from "../../common/errors.ts";
import type { ContainerConfig } from "./oci.ts";

/** Applies each change to a copy of `config` and returns it. */
export function applyChanges(config: ContainerConfig, changes: readonly string[]): ContainerConfig {
  const c: ContainerConfig = structuredClone(config);
  for (const line of changes) {
    const m = /^\s*(\w+)\s+([\s\S]*)$/.exec(line);
    if (!m) throw invalid(`bad change ${JSON.stringify(line)}`);
    const instr = m[1]!.toUpperCase();
    const arg = m[2]!.trim();
    switch (instr) {
      case "CMD":
        c.Cmd = execForm(arg);
        break;
      case "ENTRYPOINT":
        c.Entrypoint = execForm(arg);
        break;
      case "ENV":
        for (const [k, v] of pairs(arg, "ENV")) {
          const env = (c.Env ?? []).filter((e) => e.split("=")[0] !== k);
          env.push(`${k}=${v}`);
          c.Env = env;
        }
        break;
      case "LABEL":
        c.Labels = { ...(c.Labels ?? {}), ...Object.fromEntries(pairs(arg, "LABEL")) };
        break;
      case "WORKDIR":
        c.WorkingDir = arg;
        break;
      case "USER":
        c.User = arg;
        break;
      case "STOPSIGNAL":
        c.StopSignal = arg;
        break;
      case "EXPOSE":
        c.ExposedPorts = { ...(c.ExposedPorts ?? {}) };
        for (const p of arg.split(/\s+/)) c.ExposedPorts[p.includes("/") ? p : `${p}/tcp`] = {};
        break;
      case "VOLUME": {
        const vols = arg.startsWith("[") ? jsonArray(arg) : arg.split(/\s+/);
        c.Volumes = { ...(c.Volumes ?? {}) };
        for (const v of vols) c.Volumes[v] = {};
        break;
      }
      default:
        throw notImplemented(`change ${instr} is not supported (only config instructions are)`);
    }
  }
  return c;
}

function jsonArray(arg: string): string[] {
  let v: unknown;
  try {
    v = JSON.parse(arg);
  } catch {
    throw invalid(`bad JSON array ${arg}`);
  }
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string")) throw invalid(`bad JSON array ${arg}`);
  return v as string[];
}

function execForm(arg: string): string[] {
  if (arg.startsWith("[")) {
    try {
      return jsonArray(arg);
    } catch {
      // not JSON: shell form, as docker does
    }
  }
  return ["/bin/sh", "-c", arg];
}

function unquote(s: string): string {
  if (s.length >= 2 && ((s.startsWith('"') && s.endsWith('"')) || (s.startsWith("'") && s.endsWith("'"))))
    return s.slice(1, -1);
  return s;
}

/** `k=v k2="v 2"` or the legacy `k v` form. */
function pairs(arg: string, what: string): [string, string][] {
  if (!arg.includes("=")) {
    const sp = arg.search(/\s/);
    if (sp < 0) throw invalid(`${what} needs a value: ${arg}`);
    return [[arg.slice(0, sp), arg.slice(sp).trim()]];
  }
  const out: [string, string][] = [];
  const re = /([^\s=]+)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g;
  for (const m of arg.matchAll(re)) out.push([m[1]!, unquote(m[2]!)]);
  return out;
}
