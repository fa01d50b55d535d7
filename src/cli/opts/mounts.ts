/**
 * Storage flags as the docker CLI turns them into a create request:
 *
 *   -v /host:/ctr:ro      → HostConfig.Binds ("./rel:/x" made absolute first)
 *   -v vol:/ctr           → HostConfig.Binds (a named volume)
 *   -v /ctr               → Config.Volumes {"/ctr": {}} (an anonymous volume)
 *   --mount type=…,src=…,dst=…,readonly,volume-nocopy,tmpfs-size=64m,…  → HostConfig.Mounts
 *   --tmpfs /run:size=64m → HostConfig.Tmpfs {"/run": "size=64m"}
 *   --device /dev/sda:/dev/xvda:r → HostConfig.Devices
 */
import { resolve } from "node:path";
import type { DeviceMapping, Mount } from "../../api/client/index.ts";
import { parseBool, ramInBytes, ValueError } from "./values.ts";

export interface VolumeFlags {
  binds: string[];
  volumes: string[];
}

/**
 * The sections of a `-v` value, split at colons as compose's loader.ParseVolume (which
 * docker uses) does: a one-letter first section is a Windows drive (`c:\\x`), so `a:b` is
 * one section.
 */
function volumeSections(spec: string): string[] {
  const out: string[] = [];
  let buf = "";
  for (const c of spec) {
    if (c === ":" && !(buf.length === 1 && /^[A-Za-z]$/.test(buf) && out.length === 0)) {
      out.push(buf);
      buf = "";
    } else buf += c;
  }
  out.push(buf);
  return out;
}

/** Splits `-v` values into binds and anonymous volumes, as docker's parse does. */
export function parseVolumeFlags(values: string[], cwd: string): VolumeFlags {
  const binds: string[] = [];
  const volumes: string[] = [];
  for (const v of values) {
    if (v === "") throw new ValueError("invalid empty volume spec");
    const sections = volumeSections(v);
    if (sections.some((x) => x === ""))
      throw new ValueError(`invalid spec: ${v}: empty section between colons`);
    if (sections.length === 1) {
      volumes.push(v);
      continue;
    }
    const colon = v.indexOf(":");
    let host = v.slice(0, colon);
    if (host.startsWith(".")) host = resolve(cwd, host);
    binds.push(`${host}:${v.slice(colon + 1)}`);
  }
  return { binds, volumes };
}

/** Splits a CSV record (docker reads --mount with encoding/csv). */
export function csvFields(s: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quoted) {
      if (c === '"' && s[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"' && cur === "") quoted = true;
    else if (c === ",") {
      out.push(cur);
      cur = "";
    } else cur += c;
  }
  out.push(cur);
  return out;
}

/** One `--mount` value (docker's MountOpt.Set). */
export function parseMount(value: string, cwd: string): Mount {
  const m: Mount = { Type: "volume", Target: "" };
  let bind: NonNullable<Mount["BindOptions"]> | undefined;
  let vol: NonNullable<Mount["VolumeOptions"]> | undefined;
  let tmpfs: NonNullable<Mount["TmpfsOptions"]> | undefined;
  const volumeOptions = () => {
    vol ??= {};
    vol.DriverConfig ??= {};
    return vol;
  };
  const bindOptions = () => (bind ??= {});
  const tmpfsOptions = () => (tmpfs ??= {});
  const setKV = (map: Record<string, string>, kv: string) => {
    const eq = kv.indexOf("=");
    if (eq < 0) map[kv] = "";
    else map[kv.slice(0, eq)] = kv.slice(eq + 1);
  };
  let source: string | undefined;
  let target = "";
  let driverName: string | undefined;
  let driverOptions: Record<string, string> | undefined;
  for (const field of csvFields(value)) {
    const eq = field.indexOf("=");
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    const val = eq < 0 ? "" : field.slice(eq + 1);
    if (eq < 0) {
      if (key === "readonly" || key === "ro") m.ReadOnly = true;
      else if (key === "volume-nocopy") volumeOptions().NoCopy = true;
      else if (key === "bind-nonrecursive") bindOptions().NonRecursive = true;
      else throw new ValueError(`invalid field '${field}' must be a key=value pair`);
      continue;
    }
    const boolOf = () => {
      try {
        return parseBool(val);
      } catch {
        throw new ValueError(`invalid value for ${key}: ${val}`);
      }
    };
    switch (key) {
      case "type":
        m.Type = val.toLowerCase() as Mount["Type"];
        break;
      case "source":
      case "src":
        source = val === "." || val.startsWith("./") ? resolve(cwd, val) : val;
        break;
      case "target":
      case "dst":
      case "destination":
        target = val;
        break;
      case "readonly":
      case "ro":
        m.ReadOnly = boolOf();
        break;
      case "consistency":
        m.Consistency = val.toLowerCase() as NonNullable<Mount["Consistency"]>;
        break;
      case "bind-propagation":
        bindOptions().Propagation = val.toLowerCase() as NonNullable<
          NonNullable<Mount["BindOptions"]>["Propagation"]
        >;
        break;
      case "bind-nonrecursive":
        bindOptions().NonRecursive = boolOf();
        break;
      case "bind-create-mountpoint":
        bindOptions().CreateMountpoint = boolOf();
        break;
      case "volume-driver":
        driverName = val;
        volumeOptions();
        break;
      case "volume-label":
        setKV((volumeOptions().Labels ??= {}), val);
        break;
      case "volume-nocopy":
        volumeOptions().NoCopy = boolOf();
        break;
      case "volume-subpath":
        volumeOptions().Subpath = val;
        break;
      case "volume-opt":
        volumeOptions();
        setKV((driverOptions ??= {}), val);
        break;
      case "tmpfs-size":
        try {
          tmpfsOptions().SizeBytes = ramInBytes(val);
        } catch {
          throw new ValueError(`invalid value for ${key}: ${val}`);
        }
        break;
      case "tmpfs-mode":
        if (!/^[0-7]+$/.test(val)) throw new ValueError(`invalid value for ${key}: ${val}`);
        tmpfsOptions().Mode = parseInt(val, 8);
        break;
      default:
        throw new ValueError(`unexpected key '${key}' in '${field}'`);
    }
  }
  if ((m.Type as string) === "") throw new ValueError("type is required");
  if (target === "") throw new ValueError("target is required");
  if (vol && m.Type !== "volume")
    throw new ValueError(`cannot mix 'volume-*' options with mount type '${m.Type}'`);
  if (bind && m.Type !== "bind")
    throw new ValueError(`cannot mix 'bind-*' options with mount type '${m.Type}'`);
  if (tmpfs && m.Type !== "tmpfs")
    throw new ValueError(`cannot mix 'tmpfs-*' options with mount type '${m.Type}'`);
  // Go's field order: Type, Source, Target, ReadOnly, Consistency, BindOptions, VolumeOptions, TmpfsOptions.
  const out: Mount = { Type: m.Type } as Mount;
  if (source) out.Source = source;
  out.Target = target;
  if (m.ReadOnly) out.ReadOnly = true;
  if (m.Consistency) out.Consistency = m.Consistency;
  if (bind) out.BindOptions = bind;
  if (vol) {
    const v: NonNullable<Mount["VolumeOptions"]> = {};
    if (vol.NoCopy) v.NoCopy = true;
    if (vol.Labels && Object.keys(vol.Labels).length > 0) v.Labels = vol.Labels;
    if (vol.Subpath) v.Subpath = vol.Subpath;
    // Go's order: Name, then Options.
    v.DriverConfig = {
      ...(driverName ? { Name: driverName } : {}),
      ...(driverOptions ? { Options: driverOptions } : {}),
    };
    out.VolumeOptions = v;
  }
  if (tmpfs) out.TmpfsOptions = tmpfs;
  return out;
}

/** One `--tmpfs` value: `/path[:options]`. */
export function parseTmpfs(value: string): [string, string] {
  const colon = value.indexOf(":");
  return colon < 0 ? [value, ""] : [value.slice(0, colon), value.slice(colon + 1)];
}

const validDeviceMode = (mode: string) =>
  mode !== "" && mode.length <= 3 && [...mode].every((c, i, a) => "rwm".includes(c) && a.indexOf(c) === i);

/** One `--device` value: `/dev/host[:/dev/ctr][:rwm]`. */
export function parseDevice(value: string): DeviceMapping {
  const arr = value.split(":");
  if (arr.length > 3) throw new ValueError(`invalid device specification: ${value}`);
  let perms = "rwm";
  let dst = "";
  if (arr.length === 3) {
    if (!validDeviceMode(arr[2]!)) throw new ValueError(`bad mode specified: ${arr[2]!}`);
    perms = arr[2]!;
  }
  if (arr.length >= 2) {
    if (validDeviceMode(arr[1]!)) perms = arr[1]!;
    else dst = arr[1]!;
  }
  const src = arr[0]!;
  if (dst === "") dst = src;
  if (!src.startsWith("/")) throw new ValueError(`${src} is not an absolute path`);
  if (!dst.startsWith("/")) throw new ValueError(`${dst} is not an absolute path`);
  return { PathOnHost: src, PathInContainer: dst, CgroupPermissions: perms };
}
