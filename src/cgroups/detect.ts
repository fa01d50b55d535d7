import { readFileSync, statfsSync } from "node:fs";
import { invalid, precondition } from "../common/errors.ts";
import type { CgroupManager } from "./manager.ts";
import { CgroupV1, hostV1Hierarchies } from "./v1.ts";
import { CgroupV2 } from "./v2.ts";

const CGROUP2_SUPER_MAGIC = 0x63677270;

/**
 * Which cgroup version rules the host: 2 when /sys/fs/cgroup itself is cgroup2, else 1
 * when v1 hierarchies are mounted. A hybrid host (v1 hierarchies plus a cgroup2 mount at
 * /sys/fs/cgroup/unified, usually with no controllers of its own) is v1: pier does not use
 * the unified mount.
 */
export function cgroupVersion(root = "/sys/fs/cgroup"): 1 | 2 {
  let magic: number | undefined;
  try {
    magic = statfsSync(root).type;
  } catch {
    magic = undefined;
  }
  if (magic === CGROUP2_SUPER_MAGIC) return 2;
  if (magic === undefined && mountFsType(root) === "cgroup2") return 2;
  if (hostV1Hierarchies().length > 0) return 1;
  throw precondition(`no cgroup filesystem at ${root}`, "mount cgroup2 on /sys/fs/cgroup");
}

function mountFsType(mountPoint: string): string | undefined {
  let type: string | undefined;
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep >= 0 && line.slice(0, sep).split(" ")[4] === mountPoint) type = line.slice(sep + 3).split(" ")[0];
  }
  return type; // the last mount on a point is the visible one
}

let detected: CgroupManager | undefined;

/** The manager for this host (cached for the process). */
export function detectCgroups(): CgroupManager {
  return (detected ??= cgroupVersion() === 2 ? new CgroupV2() : new CgroupV1());
}

/** Where pier puts containers whose config names no cgroupsPath: `/pier/<id>`. */
export const DEFAULT_PARENT = "pier";

/**
 * Turns `linux.cgroupsPath` into a cgroup path, following runc:
 *
 * - empty or absent: `/pier/<id>` (runc uses no parent; pier groups its containers), or with
 *   `systemd`, `/system.slice/pier-<id>.scope`;
 * - an absolute path: itself, normalized (`/a//b/` is `/a/b`);
 * - a relative path: taken from the root, `a/b` is `/a/b` (runc makes it relative to its own
 *   cgroup; pier keeps it simple);
 * - with `systemd`, the "slice:prefix:name" form, expanded as systemd would name it but
 *   without asking systemd: `machine.slice:libpod:abc` is `/machine.slice/libpod-abc.scope`,
 *   a nested slice `a-b.slice` is `/a.slice/a-b.slice`, an empty slice is `system.slice`,
 *   a name ending in `.slice` is a slice of its own (`a.slice:x:b.slice` is `/a.slice/b.slice`),
 *   and an empty prefix gives `<name>.scope`.
 */
export function parseCgroupsPath(cgroupsPath: string | undefined, id: string, systemd: boolean): string {
  if (!id || id.includes("/") || id === "." || id === "..")
    throw invalid(`invalid container id "${id}" for a cgroup path`);
  if (systemd) {
    const [slice, prefix, name] = cgroupsPath ? splitSystemd(cgroupsPath) : ["system.slice", "pier", id];
    const unit = name.endsWith(".slice") ? name : `${prefix ? `${prefix}-` : ""}${name}.scope`;
    const base = expandSlice(slice || "system.slice");
    return base === "/" ? `/${unit}` : `${base}/${unit}`;
  }
  if (!cgroupsPath) return `/${DEFAULT_PARENT}/${id}`;
  const parts = cgroupsPath.split("/").filter((c) => c !== "");
  if (parts.length === 0) throw invalid(`cgroupsPath "${cgroupsPath}" names the root cgroup`);
  for (const c of parts) {
    if (c === "." || c === ".." || c.includes("\0"))
      throw invalid(`cgroupsPath "${cgroupsPath}": "${c}" is not allowed`);
  }
  return "/" + parts.join("/");
}

function splitSystemd(p: string): [string, string, string] {
  const parts = p.split(":");
  const [slice = "", prefix = "", name = ""] = parts;
  if (parts.length !== 3 || name === "") {
    throw invalid(`cgroupsPath "${p}": expected "slice:prefix:name" with --systemd-cgroup`);
  }
  for (const x of parts)
    if (x.includes("/")) throw invalid(`cgroupsPath "${p}": "/" is not allowed in systemd unit names`);
  if (name === ".slice" || name.startsWith("-")) throw invalid(`cgroupsPath "${p}": invalid name "${name}"`);
  return [slice, prefix, name];
}

/** systemd's slice path: "a-b-c.slice" is "/a.slice/a-b.slice/a-b-c.slice"; "-.slice" is "/". */
export function expandSlice(slice: string): string {
  if (!slice.endsWith(".slice") || slice.length <= ".slice".length || slice.includes("/")) {
    throw invalid(`invalid slice name "${slice}"`);
  }
  const name = slice.slice(0, -".slice".length);
  if (name === "-") return "/";
  let path = "";
  let prefix = "";
  for (const comp of name.split("-")) {
    if (comp === "") throw invalid(`invalid slice name "${slice}"`);
    path += `/${prefix}${comp}.slice`;
    prefix += `${comp}-`;
  }
  return path;
}
