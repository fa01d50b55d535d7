/**
 * Docker's container model → an OCI runtime spec (config.json) for pier-runtime.
 *
 * Inputs are the container record (Config, HostConfig in docker's shapes), the mounted
 * rootfs (to resolve the user against its /etc/passwd and /etc/group), the files of the
 * init layer (hosts, hostname, resolv.conf, bind-mounted over the placeholders), the
 * resolved mounts and the network namespace to join. Defaults follow docker's: its
 * capability set, masked and read-only paths, the default seccomp profile, a 64 MiB
 * /dev/shm, swap = 2 × memory when only --memory is given.
 */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Mount as OciMount, Namespace, Spec } from "../../oci/runtime-spec.ts";
import { PierError } from "../../common/errors.ts";
import { defaultSeccompProfile } from "../../runtime/seccomp/index.ts";
import {
  DEFAULT_CAPS,
  DEFAULT_MASKED_PATHS,
  DEFAULT_READONLY_PATHS,
  defaultSpec,
} from "../../runtime/spec.ts";
import type { ContainerRecord } from "./record.ts";

export const DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
export const INIT_BINARY = "/usr/bin/catatonit";
const SHM_DEFAULT = 64 * 1024 * 1024;

const ALL_CAPS = [
  "CHOWN",
  "DAC_OVERRIDE",
  "DAC_READ_SEARCH",
  "FOWNER",
  "FSETID",
  "KILL",
  "SETGID",
  "SETUID",
  "SETPCAP",
  "LINUX_IMMUTABLE",
  "NET_BIND_SERVICE",
  "NET_BROADCAST",
  "NET_ADMIN",
  "NET_RAW",
  "IPC_LOCK",
  "IPC_OWNER",
  "SYS_MODULE",
  "SYS_RAWIO",
  "SYS_CHROOT",
  "SYS_PTRACE",
  "SYS_PACCT",
  "SYS_ADMIN",
  "SYS_BOOT",
  "SYS_NICE",
  "SYS_RESOURCE",
  "SYS_TIME",
  "SYS_TTY_CONFIG",
  "MKNOD",
  "LEASE",
  "AUDIT_WRITE",
  "AUDIT_CONTROL",
  "SETFCAP",
  "MAC_OVERRIDE",
  "MAC_ADMIN",
  "SYSLOG",
  "WAKE_ALARM",
  "BLOCK_SUSPEND",
  "AUDIT_READ",
  "PERFMON",
  "BPF",
  "CHECKPOINT_RESTORE",
].map((c) => `CAP_${c}`);

/** `net_admin`, `NET_ADMIN`, `CAP_NET_ADMIN` → `CAP_NET_ADMIN`; unknown → InvalidArgument. */
export function capName(c: string): string {
  const up = c.toUpperCase();
  if (up === "ALL") return "ALL";
  const n = up.startsWith("CAP_") ? up : `CAP_${up}`;
  if (!ALL_CAPS.includes(n)) throw new PierError("InvalidArgument", `invalid capability: ${c}`);
  return n;
}

/** The capabilities this process may hand out (its bounding set): "all" for --privileged. */
function hostCaps(): string[] {
  try {
    const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"));
    const mask = BigInt(`0x${m?.[1] ?? "0"}`);
    return ALL_CAPS.filter((_, i) => (mask >> BigInt(i)) & 1n);
  } catch {
    return [...ALL_CAPS];
  }
}

/** docker's rule: start from the defaults (or all), add, then drop. */
export function capabilities(add: string[], drop: string[], privileged: boolean): string[] {
  if (privileged) return hostCaps();
  const a = add.map(capName);
  const d = drop.map(capName);
  let caps = a.includes("ALL") ? hostCaps() : [...DEFAULT_CAPS];
  for (const c of a) if (c !== "ALL" && !caps.includes(c)) caps.push(c);
  if (d.includes("ALL")) caps = a.filter((c) => c !== "ALL");
  else caps = caps.filter((c) => !d.includes(c));
  return caps;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

function readTable(rootfs: string, file: string): string[][] {
  try {
    return readFileSync(join(rootfs, "etc", file), "utf8")
      .split("\n")
      .filter((l) => l && !l.startsWith("#"))
      .map((l) => l.split(":"));
  } catch {
    return [];
  }
}

/** `User` ("", "name", "uid", "name:group", "uid:gid") resolved against the rootfs. */
export function resolveUser(
  rootfs: string,
  user: string | undefined,
  groupAdd: string[] = [],
): { uid: number; gid: number; additionalGids: number[]; home: string } {
  const passwd: PasswdEntry[] = readTable(rootfs, "passwd").map((f) => ({
    name: f[0] ?? "",
    uid: Number(f[2]),
    gid: Number(f[3]),
    home: f[5] ?? "/",
  }));
  const groups = readTable(rootfs, "group").map((f) => ({
    name: f[0] ?? "",
    gid: Number(f[2]),
    members: (f[3] ?? "").split(",").filter(Boolean),
  }));
  const [u = "", g] = (user ?? "").split(":");
  let entry: PasswdEntry | undefined;
  let uid: number;
  if (u === "") {
    uid = 0;
    entry = passwd.find((p) => p.uid === 0);
  } else if (/^\d+$/.test(u)) {
    uid = Number(u);
    entry = passwd.find((p) => p.uid === uid);
  } else {
    entry = passwd.find((p) => p.name === u);
    if (!entry) {
      throw new PierError("InvalidArgument", `unable to find user ${u}: no matching entries in passwd file`, {
        hint: "use a numeric uid, or a user that exists in the image",
      });
    }
    uid = entry.uid;
  }
  let gid = entry?.gid ?? 0;
  if (g !== undefined && g !== "") {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const grp = groups.find((x) => x.name === g);
      if (!grp)
        throw new PierError(
          "InvalidArgument",
          `unable to find group ${g}: no matching entries in group file`,
        );
      gid = grp.gid;
    }
  }
  const extra = new Set<number>();
  if (entry && (g === undefined || g === "")) {
    for (const grp of groups) if (grp.members.includes(entry.name) && grp.gid !== gid) extra.add(grp.gid);
  }
  for (const a of groupAdd) {
    if (/^\d+$/.test(a)) extra.add(Number(a));
    else {
      const grp = groups.find((x) => x.name === a);
      if (!grp) throw new PierError("InvalidArgument", `unable to find group ${a}`);
      extra.add(grp.gid);
    }
  }
  return { uid, gid, additionalGids: [...extra], home: entry?.home ?? "/" };
}

/** Env: the image's, then the request's (same key: the request wins), PATH and HOSTNAME ensured. */
export function mergeEnv(image: string[], request: string[], extra: string[] = []): string[] {
  const out = new Map<string, string>();
  for (const e of [...extra, ...image, ...request]) {
    const i = e.indexOf("=");
    out.set(i < 0 ? e : e.slice(0, i), e);
  }
  if (!out.has("PATH")) out.set("PATH", DEFAULT_PATH);
  return [...out.values()];
}

export interface SpecInputs {
  rec: ContainerRecord;
  /** The mounted rootfs (merged dir). */
  rootfs: string;
  /** Files bind-mounted at /etc/hosts, /etc/hostname, /etc/resolv.conf (absent with --network host for hostname? no: always). */
  etcFiles: { hosts: string; hostname: string; resolvConf: string };
  /** Network namespace: a path to join, "host" for none at all, or "new" for a fresh one. */
  netns: { path: string } | "host" | "new";
  /** Other namespaces to join (container:X modes), by OCI type. */
  joins?: Partial<Record<Namespace["type"], string>>;
  /** Resolved -v/--mount/tmpfs/volumes, in order. */
  mounts: OciMount[];
  /** lxcfs mount point when its views are to be bound over /proc files. */
  lxcfsDir?: string;
  cgroupsPath: string;
}

/** The files lxcfs serves, bound over their /proc and /sys counterparts. */
export const LXCFS_FILES = [
  "/proc/cpuinfo",
  "/proc/diskstats",
  "/proc/loadavg",
  "/proc/meminfo",
  "/proc/stat",
  "/proc/swaps",
  "/proc/uptime",
  "/proc/slabinfo",
  "/sys/devices/system/cpu/online",
];

export function buildSpec(i: SpecInputs): Spec {
  const { rec } = i;
  const cfg = rec.config;
  const hc = rec.hostConfig;
  const privileged = hc.Privileged === true;
  const spec = defaultSpec({
    terminal: cfg.Tty === true,
    args: rec.args.length ? [rec.path, ...rec.args] : [rec.path],
  });
  const proc = spec.process!;
  const user = resolveUser(i.rootfs, cfg.User, hc.GroupAdd ?? []);
  proc.user = {
    uid: user.uid,
    gid: user.gid,
    ...(user.additionalGids.length ? { additionalGids: user.additionalGids } : {}),
  };
  const hostname = cfg.Hostname || rec.id.slice(0, 12);
  proc.env = mergeEnv([], cfg.Env ?? [], [
    DEFAULT_PATH,
    `HOSTNAME=${hostname}`,
    ...(cfg.Tty ? ["TERM=xterm"] : []),
    ...(user.home ? [`HOME=${user.home}`] : []),
  ]);
  proc.cwd = cfg.WorkingDir || "/";
  const caps = capabilities(hc.CapAdd ?? [], hc.CapDrop ?? [], privileged);
  proc.capabilities = { bounding: caps, effective: caps, permitted: caps };
  const sec = hc.SecurityOpt ?? [];
  proc.noNewPrivileges = sec.some((s) => /^no-new-privileges(?:[:=]true)?$/.test(s));
  delete proc.rlimits;
  if (hc.Ulimits?.length) {
    proc.rlimits = hc.Ulimits.map((u) => ({
      type: `RLIMIT_${u.Name.toUpperCase()}`,
      soft: u.Soft,
      hard: u.Hard,
    }));
  }
  if (hc.OomScoreAdj) proc.oomScoreAdj = hc.OomScoreAdj;
  if (hc.Init) proc.args = ["/sbin/docker-init", "--", ...proc.args!];

  spec.hostname = hostname;
  if (cfg.Domainname) spec.domainname = cfg.Domainname;
  spec.root = { path: i.rootfs, readonly: hc.ReadonlyRootfs === true };

  const mounts = spec.mounts!.filter((m) => m.destination !== "/dev/shm");
  if (hc.ReadonlyRootfs !== true) {
    // docker mounts /sys/fs/cgroup read-only; /sys read-write only when privileged.
  }
  if (privileged) {
    for (const m of mounts)
      if (m.destination === "/sys") m.options = (m.options ?? []).filter((o) => o !== "ro");
  }
  const shm = hc.ShmSize && hc.ShmSize > 0 ? hc.ShmSize : SHM_DEFAULT;
  mounts.push({
    destination: "/dev/shm",
    type: "tmpfs",
    source: "shm",
    options: ["nosuid", "noexec", "nodev", "mode=1777", `size=${shm}`],
  });
  const etc = (dest: string, source: string): OciMount => ({
    destination: dest,
    type: "bind",
    source,
    options: ["rbind", "rprivate"],
  });
  mounts.push(etc("/etc/resolv.conf", i.etcFiles.resolvConf));
  mounts.push(etc("/etc/hostname", i.etcFiles.hostname));
  mounts.push(etc("/etc/hosts", i.etcFiles.hosts));
  mounts.push(...i.mounts);
  if (i.lxcfsDir) {
    for (const f of LXCFS_FILES) {
      const src = join(i.lxcfsDir, f);
      try {
        readFileSync(src, { flag: "r" }).subarray(0, 0);
      } catch {
        continue; // this lxcfs does not serve it
      }
      mounts.push({ destination: f, type: "bind", source: src, options: ["rbind", "rprivate", "ro"] });
    }
  }
  if (hc.Init) {
    mounts.push({
      destination: "/sbin/docker-init",
      type: "bind",
      source: INIT_BINARY,
      options: ["rbind", "ro"],
    });
  }
  spec.mounts = mounts;

  const linux = spec.linux!;
  const ns: Namespace[] = [];
  const join_ = i.joins ?? {};
  const want = (type: Namespace["type"], host: boolean) => {
    if (join_[type]) ns.push({ type, path: join_[type] });
    else if (!host) ns.push({ type });
  };
  want("pid", hc.PidMode === "host");
  want("ipc", hc.IpcMode === "host");
  want("uts", hc.UTSMode === "host");
  ns.push({ type: "mount" });
  if (i.netns !== "host")
    ns.push(i.netns === "new" ? { type: "network" } : { type: "network", path: i.netns.path });
  if (hc.CgroupnsMode === "private") ns.push({ type: "cgroup" });
  linux.namespaces = ns;
  linux.cgroupsPath = i.cgroupsPath;
  if (privileged) {
    linux.maskedPaths = [];
    linux.readonlyPaths = [];
  } else {
    linux.maskedPaths = hc.MaskedPaths ?? [...DEFAULT_MASKED_PATHS];
    linux.readonlyPaths = hc.ReadonlyPaths ?? [...DEFAULT_READONLY_PATHS];
  }
  if (!privileged && !sec.some((s) => /^seccomp[=:]unconfined$/.test(s)))
    linux.seccomp = defaultSeccompProfile();
  if (hc.Sysctls && Object.keys(hc.Sysctls).length) linux.sysctl = { ...hc.Sysctls };

  const r = linux.resources ?? {};
  r.devices = privileged ? [{ allow: true, access: "rwm" }] : [{ allow: false, access: "rwm" }];
  if (hc.Memory || hc.MemoryReservation || hc.MemorySwap) {
    r.memory = {};
    if (hc.Memory) r.memory.limit = hc.Memory;
    if (hc.MemoryReservation) r.memory.reservation = hc.MemoryReservation;
    if (hc.MemorySwap && hc.MemorySwap !== 0) r.memory.swap = hc.MemorySwap;
    else if (hc.Memory) r.memory.swap = hc.Memory * 2;
  }
  const cpu: NonNullable<typeof r.cpu> = {};
  if (hc.CpuShares) cpu.shares = hc.CpuShares;
  if (hc.NanoCpus) {
    cpu.period = 100_000;
    cpu.quota = Math.round((hc.NanoCpus * 100_000) / 1e9);
  }
  if (hc.CpuPeriod) cpu.period = hc.CpuPeriod;
  if (hc.CpuQuota) cpu.quota = hc.CpuQuota;
  if (hc.CpusetCpus) cpu.cpus = hc.CpusetCpus;
  if (hc.CpusetMems) cpu.mems = hc.CpusetMems;
  if (Object.keys(cpu).length) r.cpu = cpu;
  if (hc.PidsLimit && hc.PidsLimit > 0) r.pids = { limit: hc.PidsLimit };
  if (hc.BlkioWeight) r.blockIO = { weight: hc.BlkioWeight };
  linux.resources = r;
  if (hc.Devices?.length) {
    linux.devices = [];
    for (const d of hc.Devices) {
      const st = deviceOf(d.PathOnHost);
      linux.devices.push({
        path: d.PathInContainer || d.PathOnHost,
        type: st.type,
        major: st.major,
        minor: st.minor,
        fileMode: 0o666,
        uid: 0,
        gid: 0,
      });
      r.devices.push({
        allow: true,
        type: st.type,
        major: st.major,
        minor: st.minor,
        access: d.CgroupPermissions || "rwm",
      });
    }
  }
  spec.annotations = { "io.pier.container.name": rec.name, "io.pier.image": rec.image };
  return spec;
}

function deviceOf(path: string): { type: "c" | "b"; major: number; minor: number } {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new PierError(
      "InvalidArgument",
      `error gathering device information while adding custom device "${path}": no such file or directory`,
    );
  }
  if (!st.isCharacterDevice() && !st.isBlockDevice()) {
    throw new PierError("InvalidArgument", `${path} is not a device`);
  }
  const rdev = st.rdev;
  return {
    type: st.isCharacterDevice() ? "c" : "b",
    major: (rdev >> 8) & 0xfff,
    minor: (rdev & 0xff) | ((rdev >> 12) & 0xfff00),
  };
}
