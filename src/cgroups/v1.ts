/**
 * The cgroup v1 driver: one hierarchy per controller (or group of controllers), each its
 * own mount, found in /proc/self/mountinfo. A cgroup is one directory in each of them.
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { constants as osConstants } from "node:os";
import type { Resources } from "../oci/runtime-spec.ts";
import { PierError, invalid, isKind, notFound, precondition } from "../common/errors.ts";
import type { CgroupManager, CgroupMountSource, CgroupStats, CgroupSymlink, Unenforced } from "./manager.ts";
import {
  type CgroupFs,
  THROTTLES,
  checkPath,
  collectPids,
  deviceRuleLines,
  hugepageSize,
  int,
  isUnlimited,
  makeDir,
  mkdirp,
  poll,
  readKeyed,
  readLimit,
  readNumber,
  readOptional,
  realFs,
  removeTree,
  signalNumber,
  signalPids,
  validateResources,
  waitEmpty,
  writeSetting,
} from "./common.ts";

/** One mounted v1 hierarchy. */
export interface V1Hierarchy {
  /** Its controllers, e.g. ["cpu", "cpuacct"]; a named hierarchy is ["name=systemd"]. */
  controllers: string[];
  /** Where it is mounted, e.g. /sys/fs/cgroup/cpu,cpuacct. */
  mountPoint: string;
  /** The directory of the hierarchy that is mounted there: "/" unless a sub-tree is. */
  root: string;
}

/** Mount options of a v1 cgroup mount that are not controllers. */
const NOT_CONTROLLERS = new Set([
  "rw",
  "ro",
  "noprefix",
  "xattr",
  "clone_children",
  "cpuset_v2_mode",
  "sane_behavior",
  "favordynmods",
  "nofavordynmods",
]);

/** The v1 hierarchies in a mountinfo text, the first mount of each. */
export function parseMountinfoV1(text: string): V1Hierarchy[] {
  const out: V1Hierarchy[] = [];
  const seen = new Set<string>();
  for (const line of text.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const [fstype, , superOpts = ""] = line.slice(sep + 3).split(" ");
    if (fstype !== "cgroup") continue;
    const f = line.slice(0, sep).split(" ");
    const root = unescape(f[3] ?? "/");
    const mountPoint = unescape(f[4] ?? "");
    const controllers = superOpts
      .split(",")
      .filter((o) => o !== "" && !NOT_CONTROLLERS.has(o) && !o.startsWith("release_agent="));
    const key = [...controllers].sort().join(",");
    if (controllers.length === 0 || seen.has(key)) continue;
    seen.add(key);
    out.push({ controllers, mountPoint, root });
  }
  return out;
}

function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

let hostHierarchies: V1Hierarchy[] | undefined;

/** This host's v1 hierarchies, parsed from /proc/self/mountinfo once per process. */
export function hostV1Hierarchies(): V1Hierarchy[] {
  return (hostHierarchies ??= parseMountinfoV1(readFileSync("/proc/self/mountinfo", "utf8")));
}

/** Hierarchies in which `pids()` looks for processes, best first. */
const PIDS_FROM = ["freezer", "pids", "memory"];

export class CgroupV1 implements CgroupManager {
  readonly version = 1 as const;
  private readonly fs: CgroupFs;
  private readonly given: V1Hierarchy[] | undefined;
  private index: Map<string, V1Hierarchy> | undefined;

  /** `hierarchies` defaults to this host's (from mountinfo); `fs` to the real filesystem. */
  constructor(opts: { hierarchies?: V1Hierarchy[]; fs?: CgroupFs } = {}) {
    this.fs = opts.fs ?? realFs;
    this.given = opts.hierarchies;
  }

  get hierarchies(): V1Hierarchy[] {
    return this.given ?? hostV1Hierarchies();
  }

  private byController(): Map<string, V1Hierarchy> {
    if (!this.index) {
      this.index = new Map();
      for (const h of this.hierarchies) for (const c of h.controllers) this.index.set(c, h);
    }
    return this.index;
  }

  private hdir(h: V1Hierarchy, p: string): string {
    if (h.root !== "/" && (p === h.root || p.startsWith(h.root + "/")))
      return h.mountPoint + p.slice(h.root.length);
    return h.mountPoint + p;
  }

  /** The cgroup's directory in the hierarchy of `controller`, if it is mounted. */
  private dir(controller: string, p: string): string | undefined {
    const h = this.byController().get(controller);
    return h && this.hdir(h, p);
  }

  private need(controller: string, p: string, field: string): string {
    const d = this.dir(controller, p);
    if (d === undefined) {
      throw precondition(
        `${field}: the cgroup v1 ${controller} controller is not mounted`,
        "mount it under /sys/fs/cgroup",
      );
    }
    return d;
  }

  create(path: string, resources?: Resources): Unenforced[] {
    const p = checkPath(path);
    if (resources) this.check(resources);
    for (const h of this.hierarchies) {
      if (h.controllers.includes("cpuset")) this.createCpuset(h, p);
      else mkdirp(this.fs, this.hdir(h, p));
    }
    const out: Unenforced[] = [];
    if (resources) this.set(p, resources, out);
    return out;
  }

  /**
   * A new v1 cpuset cgroup starts with empty cpuset.cpus and cpuset.mems and refuses tasks
   * until they are set: each level gets its parent's values when empty.
   */
  private createCpuset(h: V1Hierarchy, p: string): void {
    const full = this.hdir(h, p);
    let parent = h.mountPoint;
    for (const comp of full.slice(h.mountPoint.length + 1).split("/")) {
      const dir = `${parent}/${comp}`;
      makeDir(this.fs, dir);
      for (const f of ["cpuset.cpus", "cpuset.mems"]) {
        if (readOptional(this.fs, `${dir}/${f}`) === "") {
          writeSetting(this.fs, `${dir}/${f}`, readOptional(this.fs, `${parent}/${f}`) ?? "");
        }
      }
      parent = dir;
    }
  }

  procsFiles(path: string): string[] {
    const p = checkPath(path);
    return this.hierarchies.map((h) => `${this.hdir(h, p)}/cgroup.procs`);
  }

  apply(path: string, resources: Resources): Unenforced[] {
    const p = checkPath(path);
    this.check(resources);
    const out: Unenforced[] = [];
    this.set(p, resources, out);
    return out;
  }

  private check(r: Resources): void {
    validateResources(r);
    if (r.unified && Object.keys(r.unified).length > 0) {
      throw invalid("linux.resources.unified needs cgroup v2; this host uses cgroup v1");
    }
  }

  private set(p: string, r: Resources, out: Unenforced[]): void {
    if (r.memory) this.setMemory(p, r.memory, out);
    if (r.cpu) this.setCpu(p, r.cpu, out);
    if (r.pids) {
      const d = this.need("pids", p, "pids.limit");
      writeSetting(this.fs, `${d}/pids.max`, r.pids.limit > 0 ? int(r.pids.limit) : "max");
    }
    if (r.blockIO) this.setBlkio(p, r.blockIO, out);
    if (r.devices?.length) {
      const d = this.need("devices", p, "devices");
      // Consecutive rules of the same kind go through one open file, a write(2) each.
      let run: string[] = [];
      let allow = r.devices[0]!.allow;
      for (const rule of r.devices) {
        if (rule.allow !== allow) {
          writeSetting(this.fs, `${d}/${allow ? "devices.allow" : "devices.deny"}`, run);
          run = [];
          allow = rule.allow;
        }
        run.push(...deviceRuleLines(rule));
      }
      writeSetting(this.fs, `${d}/${allow ? "devices.allow" : "devices.deny"}`, run);
    }
    for (const hp of r.hugepageLimits ?? []) {
      const d = this.dir("hugetlb", p);
      const size = hugepageSize(hp.pageSize);
      if (d === undefined) {
        out.push({ field: `hugepageLimits[${size}]`, reason: "the hugetlb controller is not mounted" });
        continue;
      }
      const file = `${d}/hugetlb.${size}.limit_in_bytes`;
      if (!writeSetting(this.fs, file, isUnlimited(hp.limit) ? "-1" : int(hp.limit), { optional: true })) {
        throw invalid(`hugepageLimits: page size ${size} is not supported by this host`);
      }
    }
    if (r.network) this.setNetwork(p, r.network, out);
  }

  private setMemory(p: string, m: NonNullable<Resources["memory"]>, out: Unenforced[]): void {
    const d = this.need("memory", p, "memory");
    const f = (n: string) => `${d}/memory.${n}`;
    const fs = this.fs;
    const hasMemsw = fs.exists(f("memsw.limit_in_bytes"));
    // As runc: 0 means "not set" for every memory limit.
    const limit = m.limit || undefined;
    let swap = m.swap || undefined;
    if (limit !== undefined && isUnlimited(limit) && swap === undefined && hasMemsw) swap = -1;
    if (swap !== undefined && !hasMemsw) {
      if (!isUnlimited(swap)) {
        out.push({ field: "memory.swap", reason: "swap accounting is off (no memory.memsw.limit_in_bytes)" });
      }
      swap = undefined;
    }
    const setLimit = (v: number) => {
      try {
        writeSetting(fs, f("limit_in_bytes"), isUnlimited(v) ? "-1" : int(v));
      } catch (err) {
        if (!isKind(err, "InvalidArgument")) throw err;
        const usage = readNumber(fs, f("usage_in_bytes"));
        throw new PierError("InvalidArgument", `${(err as Error).message}; current usage is ${usage} bytes`, {
          cause: err,
          hint: "a memory limit cannot be set below what the cgroup already uses",
        });
      }
    };
    const setSwap = (v: number) =>
      writeSetting(fs, f("memsw.limit_in_bytes"), isUnlimited(v) ? "-1" : int(v));
    // The kernel keeps memsw >= limit at every step: order the two writes so that holds.
    if (limit !== undefined && swap !== undefined) {
      const cur = readLimit(fs, f("limit_in_bytes")) ?? Infinity;
      if (isUnlimited(swap) || cur <= swap) {
        setSwap(swap);
        setLimit(limit);
      } else {
        setLimit(limit);
        setSwap(swap);
      }
    } else {
      if (limit !== undefined) setLimit(limit);
      if (swap !== undefined) setSwap(swap);
    }
    if (m.reservation)
      writeSetting(fs, f("soft_limit_in_bytes"), isUnlimited(m.reservation) ? "-1" : int(m.reservation));
    if (m.swappiness !== undefined && m.swappiness !== -1)
      writeSetting(fs, f("swappiness"), int(m.swappiness));
    if (m.disableOOMKiller !== undefined) writeSetting(fs, f("oom_control"), m.disableOOMKiller ? "1" : "0");
    // Kernel memory limits are deprecated (5.4) and no longer enforced (6.x accepts and
    // ignores the write, or the file is gone): best effort, never an error.
    const bestEffort = (field: string, file: string, v: number | undefined | boolean, value: string) => {
      if (v === undefined || v === 0) return;
      let ok: boolean;
      try {
        ok = writeSetting(fs, file, value, { optional: true });
      } catch (err) {
        if (!(err instanceof PierError)) throw err;
        ok = false;
      }
      if (!ok) out.push({ field, reason: "not supported by this kernel" });
    };
    bestEffort(
      "memory.kernel",
      f("kmem.limit_in_bytes"),
      m.kernel,
      isUnlimited(m.kernel ?? 0) ? "-1" : int(m.kernel ?? 0),
    );
    bestEffort(
      "memory.kernelTCP",
      f("kmem.tcp.limit_in_bytes"),
      m.kernelTCP,
      isUnlimited(m.kernelTCP ?? 0) ? "-1" : int(m.kernelTCP ?? 0),
    );
    // use_hierarchy is always 1 since 6.1 (writing 0 is refused).
    if (m.useHierarchy !== undefined)
      bestEffort("memory.useHierarchy", f("use_hierarchy"), true, m.useHierarchy ? "1" : "0");
  }

  private setCpu(p: string, c: NonNullable<Resources["cpu"]>, out: Unenforced[]): void {
    const fs = this.fs;
    const needsCpu =
      c.shares ||
      c.quota ||
      c.period ||
      c.burst !== undefined ||
      c.realtimePeriod ||
      c.realtimeRuntime ||
      c.idle !== undefined;
    if (needsCpu) {
      const d = this.need("cpu", p, "cpu");
      if (c.shares) {
        writeSetting(fs, `${d}/cpu.shares`, int(c.shares));
        // The kernel clamps shares to [2, 262144] without an error.
        const got = readNumber(fs, `${d}/cpu.shares`);
        if (got !== c.shares) throw invalid(`cpu.shares ${c.shares} is out of range: the kernel set ${got}`);
      }
      // A period below the current one can be refused (EINVAL) while the old quota is in
      // place, as old_quota/new_period may exceed the parent's limit: then quota, and
      // period again.
      let periodPending = false;
      if (c.period) {
        try {
          writeSetting(fs, `${d}/cpu.cfs_period_us`, int(c.period));
        } catch (err) {
          if (!c.quota || !isKind(err, "InvalidArgument")) throw err;
          periodPending = true;
        }
      }
      if (c.quota) writeSetting(fs, `${d}/cpu.cfs_quota_us`, isUnlimited(c.quota) ? "-1" : int(c.quota));
      if (periodPending && c.period) writeSetting(fs, `${d}/cpu.cfs_period_us`, int(c.period));
      if (
        c.burst !== undefined &&
        !writeSetting(fs, `${d}/cpu.cfs_burst_us`, int(c.burst), { optional: true })
      ) {
        out.push({ field: "cpu.burst", reason: "cpu.cfs_burst_us is not supported by this kernel" });
      }
      if (
        c.realtimePeriod &&
        !writeSetting(fs, `${d}/cpu.rt_period_us`, int(c.realtimePeriod), { optional: true })
      ) {
        out.push({ field: "cpu.realtimePeriod", reason: "the kernel has no CONFIG_RT_GROUP_SCHED" });
      }
      if (
        c.realtimeRuntime &&
        !writeSetting(fs, `${d}/cpu.rt_runtime_us`, int(c.realtimeRuntime), { optional: true })
      ) {
        out.push({ field: "cpu.realtimeRuntime", reason: "the kernel has no CONFIG_RT_GROUP_SCHED" });
      }
      if (c.idle !== undefined && !writeSetting(fs, `${d}/cpu.idle`, int(c.idle), { optional: true })) {
        out.push({ field: "cpu.idle", reason: "cpu.idle is not supported by this kernel" });
      }
    }
    if (c.cpus || c.mems) {
      const d = this.need("cpuset", p, "cpu.cpus/mems");
      if (c.cpus) writeSetting(fs, `${d}/cpuset.cpus`, c.cpus);
      if (c.mems) writeSetting(fs, `${d}/cpuset.mems`, c.mems);
    }
  }

  private setBlkio(p: string, b: NonNullable<Resources["blockIO"]>, out: Unenforced[]): void {
    const d = this.need("blkio", p, "blockIO");
    const fs = this.fs;
    // CFQ's blkio.weight went with CFQ in 5.0; BFQ has blkio.bfq.weight (when loaded).
    const prefix = fs.exists(`${d}/blkio.weight`)
      ? "blkio."
      : fs.exists(`${d}/blkio.bfq.weight`)
        ? "blkio.bfq."
        : undefined;
    const noWeights = "no blkio.weight or blkio.bfq.weight: the host's I/O schedulers have no weights";
    if (b.weight) {
      if (prefix) writeSetting(fs, `${d}/${prefix}weight`, int(b.weight));
      else out.push({ field: "blockIO.weight", reason: noWeights });
    }
    if (b.leafWeight && !writeSetting(fs, `${d}/blkio.leaf_weight`, int(b.leafWeight), { optional: true })) {
      out.push({ field: "blockIO.leafWeight", reason: "only CFQ had leaf weights" });
    }
    for (const wd of b.weightDevice ?? []) {
      const dev = `${wd.major}:${wd.minor}`;
      if (wd.weight) {
        if (prefix) writeSetting(fs, `${d}/${prefix}weight_device`, `${dev} ${wd.weight}`);
        else out.push({ field: `blockIO.weightDevice[${dev}]`, reason: noWeights });
      }
      if (
        wd.leafWeight &&
        !writeSetting(fs, `${d}/blkio.leaf_weight_device`, `${dev} ${wd.leafWeight}`, { optional: true })
      ) {
        out.push({ field: `blockIO.weightDevice[${dev}].leafWeight`, reason: "only CFQ had leaf weights" });
      }
    }
    const files = {
      throttleReadBpsDevice: "read_bps_device",
      throttleWriteBpsDevice: "write_bps_device",
      throttleReadIOPSDevice: "read_iops_device",
      throttleWriteIOPSDevice: "write_iops_device",
    } as const;
    for (const k of THROTTLES) {
      for (const t of b[k] ?? [])
        writeSetting(fs, `${d}/blkio.throttle.${files[k]}`, `${t.major}:${t.minor} ${int(t.rate)}`);
    }
  }

  private setNetwork(p: string, n: NonNullable<Resources["network"]>, out: Unenforced[]): void {
    if (n.classID !== undefined) {
      const d = this.dir("net_cls", p);
      if (d) writeSetting(this.fs, `${d}/net_cls.classid`, int(n.classID));
      else out.push({ field: "network.classID", reason: "the net_cls controller is not mounted" });
    }
    if (n.priorities?.length) {
      const d = this.dir("net_prio", p);
      if (!d) out.push({ field: "network.priorities", reason: "the net_prio controller is not mounted" });
      else
        for (const pr of n.priorities)
          writeSetting(this.fs, `${d}/net_prio.ifpriomap`, `${pr.name} ${pr.priority}`);
    }
  }

  pids(path: string): number[] {
    const p = checkPath(path, true);
    const m = this.byController();
    const h = PIDS_FROM.map((c) => m.get(c)).find((x) => x !== undefined) ?? this.hierarchies[0];
    if (!h) return [];
    const out = new Set<number>();
    collectPids(this.fs, this.hdir(h, p), out);
    return [...out];
  }

  freeze(path: string): void {
    const file = `${this.need("freezer", checkPath(path), "freeze")}/freezer.state`;
    writeSetting(this.fs, file, "FROZEN");
    // FREEZING can last while tasks are busy in the kernel; writing FROZEN again retries.
    const frozen = () => readOptional(this.fs, file) === "FROZEN";
    if (!poll(frozen, () => writeSetting(this.fs, file, "FROZEN"), 5000)) {
      writeSetting(this.fs, file, "THAWED");
      throw new PierError("Unavailable", `freeze cgroup ${path}: still FREEZING after 5 s`);
    }
  }

  thaw(path: string): void {
    const file = `${this.need("freezer", checkPath(path), "thaw")}/freezer.state`;
    writeSetting(this.fs, file, "THAWED");
    const thawed = () => readOptional(this.fs, file) === "THAWED";
    if (!poll(thawed, () => writeSetting(this.fs, file, "THAWED"), 5000)) {
      throw new PierError("Unavailable", `thaw cgroup ${path}: not THAWED after 5 s`);
    }
  }

  isFrozen(path: string): boolean {
    const d = this.dir("freezer", checkPath(path));
    return d !== undefined && readOptional(this.fs, `${d}/freezer.state`) === "FROZEN";
  }

  killAll(path: string, signal: number | NodeJS.Signals, timeoutMs = 5000): void {
    const p = checkPath(path);
    const sig = signalNumber(signal);
    if (sig !== osConstants.signals.SIGKILL) {
      signalPids(this.pids(p), sig);
      return;
    }
    const frozen = this.dir("freezer", p) !== undefined && this.exists(p) && this.tryFreeze(p);
    try {
      signalPids(this.pids(p), sig);
    } finally {
      if (frozen) this.thaw(p);
    }
    waitEmpty(`kill cgroup ${p}`, () => this.pids(p).length === 0, timeoutMs);
  }

  private tryFreeze(p: string): boolean {
    try {
      this.freeze(p);
      return true;
    } catch {
      return false; // killing without freezing only risks missing a fork: the wait shows it
    }
  }

  destroy(path: string): void {
    const p = checkPath(path);
    let first: unknown;
    for (const h of this.hierarchies) {
      try {
        removeTree(this.fs, this.hdir(h, p));
      } catch (err) {
        first ??= err;
      }
    }
    if (first !== undefined) throw first;
  }

  exists(path: string): boolean {
    const p = checkPath(path, true);
    return this.hierarchies.some((h) => this.fs.exists(this.hdir(h, p)));
  }

  stats(path: string): CgroupStats {
    const p = checkPath(path, true);
    if (!this.exists(p)) throw notFound(`cgroup ${path} does not exist`);
    const fs = this.fs;
    const mem = this.dir("memory", p);
    const acct = this.dir("cpuacct", p);
    const cpu = this.dir("cpu", p);
    const pids = this.dir("pids", p);
    const cpuStat = cpu ? readKeyed(fs, `${cpu}/cpu.stat`) : new Map<string, number>();
    let userNs = 0;
    let systemNs = 0;
    if (acct) {
      if (fs.exists(`${acct}/cpuacct.usage_user`)) {
        userNs = readNumber(fs, `${acct}/cpuacct.usage_user`);
        systemNs = readNumber(fs, `${acct}/cpuacct.usage_sys`);
      } else {
        const st = readKeyed(fs, `${acct}/cpuacct.stat`); // in USER_HZ (100) ticks
        userNs = (st.get("user") ?? 0) * 1e7;
        systemNs = (st.get("system") ?? 0) * 1e7;
      }
    }
    return {
      memory: {
        usage: mem ? readNumber(fs, `${mem}/memory.usage_in_bytes`) : 0,
        maxUsage:
          mem && fs.exists(`${mem}/memory.max_usage_in_bytes`)
            ? readNumber(fs, `${mem}/memory.max_usage_in_bytes`)
            : null,
        limit: mem ? readLimit(fs, `${mem}/memory.limit_in_bytes`) : null,
        // With swap accounting, a charge fails on memsw first: count both counters.
        failcnt: mem
          ? readNumber(fs, `${mem}/memory.failcnt`) + readNumber(fs, `${mem}/memory.memsw.failcnt`)
          : 0,
        oomKills: mem ? (readKeyed(fs, `${mem}/memory.oom_control`).get("oom_kill") ?? 0) : 0,
      },
      cpu: {
        usageNs: acct ? readNumber(fs, `${acct}/cpuacct.usage`) : 0,
        userNs,
        systemNs,
        periods: cpuStat.get("nr_periods") ?? 0,
        throttledPeriods: cpuStat.get("nr_throttled") ?? 0,
        throttledNs: cpuStat.get("throttled_time") ?? 0,
      },
      pids: {
        current: pids ? readNumber(fs, `${pids}/pids.current`) : 0,
        limit: pids ? readLimit(fs, `${pids}/pids.max`) : null,
      },
    };
  }

  mountSources(path: string): CgroupMountSource[] {
    const p = checkPath(path);
    return this.hierarchies.map((h) => ({ name: basename(h.mountPoint), hostPath: this.hdir(h, p) }));
  }

  mountSymlinks(): CgroupSymlink[] {
    const out: CgroupSymlink[] = [];
    for (const h of this.hierarchies) {
      const name = basename(h.mountPoint);
      if (h.controllers.length < 2) continue;
      for (const c of h.controllers)
        if (c !== name && !c.startsWith("name=")) out.push({ name: c, target: name });
    }
    return out;
  }
}
