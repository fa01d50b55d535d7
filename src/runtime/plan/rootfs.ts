import { lstatSync, readlinkSync, statSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { invalid, notFound, notImplemented } from "../../common/errors.ts";
import { MS, S_IFBLK, S_IFCHR, S_IFIFO, makedev } from "../../host/linux.ts";
import type { Device, Mount, Spec } from "../../oci/runtime-spec.ts";
import { Op, type Plan } from "./ops.ts";

/**
 * Resolves `unsafe` inside `root` the way the container will see it: symlinks
 * are followed but can never lead outside `root` ("../" stops at the root and
 * absolute link targets start again from it).
 */
export function secureJoin(root: string, unsafe: string): string {
  let parts = unsafe.split("/").filter((p) => p !== "" && p !== ".");
  let done: string[] = [];
  let links = 0;
  while (parts.length > 0) {
    const p = parts.shift() as string;
    if (p === "..") {
      done.pop();
      continue;
    }
    const full = join(root, ...done, p);
    let isLink = false;
    try {
      isLink = lstatSync(full).isSymbolicLink();
    } catch {
      // does not exist (yet): the rest is taken literally
    }
    if (!isLink) {
      done.push(p);
      continue;
    }
    if (++links > 255) throw invalid(`too many symbolic links resolving ${unsafe} in ${root}`);
    const target = readlinkSync(full);
    if (target.startsWith("/")) done = [];
    parts = [...target.split("/").filter((x) => x !== "" && x !== "."), ...parts];
  }
  return join(root, ...done);
}

const FLAGS: Record<string, [set: boolean, flag: number]> = {
  ro: [true, MS.RDONLY],
  rw: [false, MS.RDONLY],
  nosuid: [true, MS.NOSUID],
  suid: [false, MS.NOSUID],
  nodev: [true, MS.NODEV],
  dev: [false, MS.NODEV],
  noexec: [true, MS.NOEXEC],
  exec: [false, MS.NOEXEC],
  sync: [true, MS.SYNCHRONOUS],
  async: [false, MS.SYNCHRONOUS],
  dirsync: [true, MS.DIRSYNC],
  remount: [true, MS.REMOUNT],
  mand: [true, MS.MANDLOCK],
  nomand: [false, MS.MANDLOCK],
  atime: [false, MS.NOATIME],
  noatime: [true, MS.NOATIME],
  diratime: [false, MS.NODIRATIME],
  nodiratime: [true, MS.NODIRATIME],
  relatime: [true, MS.RELATIME],
  norelatime: [false, MS.RELATIME],
  strictatime: [true, MS.STRICTATIME],
  nostrictatime: [false, MS.STRICTATIME],
  lazytime: [true, MS.LAZYTIME],
  nolazytime: [false, MS.LAZYTIME],
  nosymfollow: [true, MS.NOSYMFOLLOW],
  symfollow: [false, MS.NOSYMFOLLOW],
  silent: [true, MS.SILENT],
  loud: [false, MS.SILENT],
  bind: [true, MS.BIND],
  rbind: [true, MS.BIND | MS.REC],
};

const PROPAGATION: Record<string, number> = {
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
};

export interface ParsedOptions {
  flags: number;
  propagation: number[];
  data: string[];
}

export function parseMountOptions(options: string[] | undefined, field: string): ParsedOptions {
  let flags = 0;
  const propagation: number[] = [];
  const data: string[] = [];
  for (const o of options ?? []) {
    const f = FLAGS[o];
    if (f) {
      flags = f[0] ? flags | f[1] : flags & ~f[1];
      continue;
    }
    const pr = PROPAGATION[o];
    if (pr !== undefined) {
      propagation.push(pr);
      continue;
    }
    if (o === "idmap" || o === "ridmap") throw notImplemented(`${field}: mount option "${o}"`);
    if (o === "tmpcopyup" || o.startsWith("X-") || o.startsWith("x-")) continue;
    data.push(o);
  }
  return { flags, propagation, data };
}

export interface CgroupMountInfo {
  version: 1 | 2;
  sources: { name: string; hostPath: string }[];
  symlinks: { name: string; target: string }[];
  cgroupns: boolean;
}

export interface RootfsContext {
  spec: Spec;
  bundle: string;
  rootfs: string;
  userns: boolean;
  netnsNew: boolean;
  cgroup: () => CgroupMountInfo;
  warn: (m: string) => void;
}

const DEFAULT_DEVICES: Device[] = [
  { path: "/dev/null", type: "c", major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
  { path: "/dev/zero", type: "c", major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0 },
  { path: "/dev/full", type: "c", major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0 },
  { path: "/dev/random", type: "c", major: 1, minor: 8, fileMode: 0o666, uid: 0, gid: 0 },
  { path: "/dev/urandom", type: "c", major: 1, minor: 9, fileMode: 0o666, uid: 0, gid: 0 },
  { path: "/dev/tty", type: "c", major: 5, minor: 0, fileMode: 0o666, uid: 0, gid: 0 },
];

export function defaultDevices(): Device[] {
  return DEFAULT_DEVICES;
}

/** Mount ops before pivot_root: propagation, the rootfs bind, config mounts, /dev. */
export function addRootfsOps(plan: Plan, c: RootfsContext): void {
  const { spec, rootfs } = c;
  const prop = spec.linux?.rootfsPropagation;
  // Keep host mount events flowing in but never out; "shared" is applied after pivot.
  const first = prop && !prop.includes("shared") ? (PROPAGATION[prop] as number) : MS.SLAVE | MS.REC;
  plan.add(Op.MOUNT, "set the propagation of /", "", "/", "", first | MS.REC, "");
  plan.add(Op.MOUNT, `bind the rootfs ${rootfs}`, rootfs, rootfs, "", MS.BIND | MS.REC, "");

  const cwd = spec.process?.cwd;
  if (cwd && cwd !== "/") {
    const p = secureJoin(rootfs, cwd);
    if (!exists(p)) plan.add(Op.MKDIRP, `create cwd ${cwd}`, p, "755");
  }

  const mounts = spec.mounts ?? [];
  let setupDev = true;
  let devpts = false;
  mounts.forEach((m, i) => {
    const dest = m.destination.startsWith("/") ? m.destination : `/${m.destination}`;
    if (dest === "/dev" && isBind(m)) setupDev = false;
    if (dest === "/dev/pts" && m.type === "devpts") devpts = true;
    addMount(plan, c, m, dest, `mounts[${i}]`);
  });

  if (setupDev) {
    const devices = new Map<string, Device>();
    for (const d of [...DEFAULT_DEVICES, ...(spec.linux?.devices ?? [])]) devices.set(d.path, d);
    for (const d of devices.values()) addDevice(plan, c, d);
    const links: [string, string][] = [
      ["/proc/self/fd", "/dev/fd"],
      ["/proc/self/fd/0", "/dev/stdin"],
      ["/proc/self/fd/1", "/dev/stdout"],
      ["/proc/self/fd/2", "/dev/stderr"],
    ];
    if (exists("/proc/kcore")) links.push(["/proc/kcore", "/dev/core"]);
    if (devpts) links.push(["pts/ptmx", "/dev/ptmx"]);
    for (const [target, link] of links)
      plan.add(Op.SYMLINK, `symlink ${link}`, target, secureJoin(rootfs, link));
  }
}

function isBind(m: Mount): boolean {
  return m.type === "bind" || (m.options ?? []).some((o) => o === "bind" || o === "rbind");
}

function exists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

function addMount(plan: Plan, c: RootfsContext, m: Mount, dest: string, field: string): void {
  const target = secureJoin(c.rootfs, dest);
  if (target === c.rootfs) throw invalid(`${field}.destination: cannot mount over the root of the container`);
  const opts = parseMountOptions(m.options, `${field}.options`);
  const data = opts.data.join(",");
  const type = m.type ?? (isBind(m) ? "bind" : "");

  if (isBind(m)) {
    if (!m.source) throw invalid(`${field}.source is required for a bind mount`);
    const src = isAbsolute(m.source) ? m.source : resolve(c.bundle, m.source);
    let st;
    try {
      st = statSync(src);
    } catch {
      throw notFound(`${field}.source ${src} does not exist`, "create it or fix the mount in config.json");
    }
    if (st.isDirectory()) plan.add(Op.MKDIRP, `create mount point ${dest}`, target, "755");
    else plan.add(Op.TOUCH, `create mount point ${dest}`, target);
    const bindFlags = MS.BIND | (opts.flags & MS.REC);
    plan.add(Op.MOUNT, `bind ${src} on ${dest}`, src, target, "", bindFlags, "");
    const extra = opts.flags & ~(MS.BIND | MS.REC | MS.REMOUNT);
    if (extra) plan.add(Op.REMOUNT, `remount ${dest} with ${(m.options ?? []).join(",")}`, target, extra);
    for (const p of opts.propagation) plan.add(Op.MOUNT, `set propagation of ${dest}`, "", target, "", p, "");
    return;
  }

  switch (type) {
    case "cgroup":
    case "cgroup2":
      addCgroupMount(plan, c, target, dest, opts);
      return;
    case "sysfs":
      if (c.userns && !c.netnsNew) {
        // sysfs can only be mounted by the owner of the network namespace; bind the host's instead.
        plan.add(Op.MKDIRP, `create mount point ${dest}`, target, "755");
        plan.add(Op.MOUNT, `bind /sys on ${dest}`, "/sys", target, "", MS.BIND | MS.REC, "");
        if (opts.flags & MS.RDONLY) plan.add(Op.REMOUNT, `remount ${dest} read-only`, target, MS.RDONLY);
        return;
      }
      break;
    case "":
      throw invalid(`${field}.type is required for a mount that is not a bind mount`);
  }
  plan.add(Op.MKDIRP, `create mount point ${dest}`, target, "755");
  plan.add(Op.MOUNT, `mount ${type} on ${dest}`, m.source ?? type, target, type, opts.flags, data);
  for (const p of opts.propagation) plan.add(Op.MOUNT, `set propagation of ${dest}`, "", target, "", p, "");
}

function addCgroupMount(
  plan: Plan,
  c: RootfsContext,
  target: string,
  dest: string,
  opts: ParsedOptions,
): void {
  const cg = c.cgroup();
  const flags =
    (opts.flags & (MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.RELATIME)) | MS.NOSUID | MS.NODEV | MS.NOEXEC;
  const ro = opts.flags & MS.RDONLY;
  plan.add(Op.MKDIRP, `create mount point ${dest}`, target, "755");
  if (cg.version === 2) {
    if (cg.cgroupns) {
      plan.add(Op.MOUNT, `mount cgroup2 on ${dest}`, "cgroup2", target, "cgroup2", flags | ro, "");
    } else {
      const src = cg.sources[0]?.hostPath ?? "/sys/fs/cgroup";
      plan.add(Op.MOUNT, `bind the container's cgroup on ${dest}`, src, target, "", MS.BIND | MS.REC, "");
      plan.add(Op.REMOUNT, `remount ${dest}`, target, flags | ro);
    }
    return;
  }
  plan.add(Op.MOUNT, `mount tmpfs on ${dest}`, "tmpfs", target, "tmpfs", flags, "mode=755");
  for (const s of cg.sources) {
    const t = join(target, s.name);
    plan.add(Op.MKDIRP, `create ${dest}/${s.name}`, t, "755");
    plan.add(Op.MOUNT, `bind cgroup ${s.name} on ${dest}/${s.name}`, s.hostPath, t, "", MS.BIND | MS.REC, "");
    plan.add(Op.REMOUNT, `remount ${dest}/${s.name}`, t, flags | ro);
  }
  for (const l of cg.symlinks)
    plan.add(Op.SYMLINK, `symlink ${dest}/${l.name}`, l.target, join(target, l.name));
  if (ro)
    plan.add(
      Op.MOUNT,
      `remount ${dest} read-only`,
      "",
      target,
      "",
      MS.REMOUNT | flags | MS.RDONLY,
      "mode=755",
    );
}

function addDevice(plan: Plan, c: RootfsContext, d: Device): void {
  const target = secureJoin(c.rootfs, d.path);
  if (c.userns) {
    // mknod is not allowed in a user namespace: bind the host's node instead.
    if (!exists(d.path)) {
      c.warn(`device ${d.path} does not exist on the host; skipped (user namespace)`);
      return;
    }
    plan.add(Op.TOUCH, `create ${d.path}`, target);
    plan.add(Op.MOUNT, `bind device ${d.path}`, d.path, target, "", MS.BIND, "");
    return;
  }
  const kind = d.type === "b" ? S_IFBLK : d.type === "p" ? S_IFIFO : S_IFCHR;
  const mode = kind | ((d.fileMode ?? 0o666) & 0o7777);
  const dev = d.type === "p" ? 0n : makedev(d.major ?? 0, d.minor ?? 0);
  const parent = target.slice(0, target.lastIndexOf("/"));
  plan.add(Op.MKDIRP, `create ${parent}`, parent, "755");
  plan.add(Op.MKNOD, `create device ${d.path}`, target, mode, dev, d.uid ?? 0, d.gid ?? 0);
}

/** Ops after pivot_root: propagation of /, masked and read-only paths, a read-only root. */
export function addPostPivotOps(plan: Plan, spec: Spec): void {
  const prop = spec.linux?.rootfsPropagation;
  if (prop && prop.includes("shared"))
    plan.add(Op.MOUNT, `set rootfs propagation ${prop}`, "", "/", "", PROPAGATION[prop] as number, "");
  for (const p of spec.linux?.readonlyPaths ?? []) {
    plan.add(Op.MOUNT, `bind ${p} read-only`, p, `?${p}`, "", MS.BIND | MS.REC, "");
    plan.add(Op.REMOUNT, `remount ${p} read-only`, `?${p}`, MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC);
  }
  for (const p of spec.linux?.maskedPaths ?? []) plan.add(Op.MASK, `mask ${p}`, p);
  if (spec.root?.readonly) plan.add(Op.REMOUNT, "remount the rootfs read-only", "/", MS.RDONLY);
}
