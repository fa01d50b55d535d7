/**
 * The cgroup v2 driver: one unified tree (by default /sys/fs/cgroup). A controller works in
 * a cgroup once every ancestor lists it in cgroup.subtree_control; `create` enables them.
 */
import { constants as osConstants } from "node:os";
import type { Resources } from "../oci/runtime-spec.ts";
import { PierError, invalid, notFound } from "../common/errors.ts";
import type { CgroupManager, CgroupMountSource, CgroupStats, CgroupSymlink, Unenforced } from "./manager.ts";
import {
  type CgroupFs,
  THROTTLES,
  blkioToIoWeight,
  checkPath,
  collectPids,
  hugepageSize,
  int,
  isUnlimited,
  makeDir,
  poll,
  readKeyed,
  readLimit,
  readNumber,
  readOptional,
  realFs,
  removeTree,
  sharesToWeight,
  signalNumber,
  signalPids,
  validateResources,
  waitEmpty,
  writeSetting,
} from "./common.ts";

export const DEVICES_NOT_ENFORCED = "devices cgroup rules are not enforced on cgroup v2 (needs eBPF)";

export class CgroupV2 implements CgroupManager {
  readonly version = 2 as const;
  readonly root: string;
  private readonly fs: CgroupFs;

  /** `root` is where the unified hierarchy is mounted; `fs` is swapped in tests. */
  constructor(opts: { root?: string; fs?: CgroupFs } = {}) {
    this.root = (opts.root ?? "/sys/fs/cgroup").replace(/\/+$/, "");
    this.fs = opts.fs ?? realFs;
  }

  private dir(path: string, allowRoot = false): string {
    return this.root + checkPath(path, allowRoot);
  }

  create(path: string, resources?: Resources): Unenforced[] {
    const full = this.dir(path);
    if (resources) validateResources(resources);
    let parent = this.root;
    for (const comp of full.slice(this.root.length + 1).split("/")) {
      this.enableControllers(parent);
      parent = `${parent}/${comp}`;
      makeDir(this.fs, parent);
    }
    const out: Unenforced[] = [];
    if (resources) this.set(full, resources, out);
    return out;
  }

  /**
   * Enables in `dir`'s subtree_control every controller it has, as runc does. One write
   * when all are accepted; else one by one, ignoring refusals (a missing controller then
   * shows when a file of it is written).
   */
  private enableControllers(dir: string): void {
    const avail = (readOptional(this.fs, `${dir}/cgroup.controllers`) ?? "").split(/\s+/).filter(Boolean);
    const on = new Set((readOptional(this.fs, `${dir}/cgroup.subtree_control`) ?? "").split(/\s+/));
    const want = avail.filter((c) => !on.has(c));
    if (want.length === 0) return;
    const file = `${dir}/cgroup.subtree_control`;
    try {
      this.fs.write(file, want.map((c) => `+${c}`).join(" "));
    } catch {
      for (const c of want) {
        try {
          this.fs.write(file, `+${c}`);
        } catch {
          // e.g. EBUSY: a domain controller under a cgroup with processes of its own
        }
      }
    }
  }

  procsFiles(path: string): string[] {
    return [`${this.dir(path)}/cgroup.procs`];
  }

  apply(path: string, resources: Resources): Unenforced[] {
    const d = this.dir(path);
    validateResources(resources);
    const out: Unenforced[] = [];
    this.set(d, resources, out);
    return out;
  }

  private set(d: string, r: Resources, out: Unenforced[]): void {
    const fs = this.fs;
    const w = (name: string, value: string) => writeSetting(fs, `${d}/${name}`, value);
    const opt = (name: string, value: string) => writeSetting(fs, `${d}/${name}`, value, { optional: true });
    const max = (n: number) => (isUnlimited(n) ? "max" : int(n));
    const m = r.memory;
    if (m) {
      if (m.limit) w("memory.max", max(m.limit));
      if (m.reservation) w("memory.low", isUnlimited(m.reservation) ? "max" : int(m.reservation));
      // OCI swap is memory+swap; v2's memory.swap.max is the swap alone.
      if (m.swap) {
        let value: string | undefined;
        if (isUnlimited(m.swap)) value = "max";
        else if (m.limit && !isUnlimited(m.limit)) value = int(m.swap - m.limit);
        else throw invalid("linux.resources.memory.swap needs memory.limit on cgroup v2");
        if (!opt("memory.swap.max", value))
          out.push({ field: "memory.swap", reason: "swap accounting is off (no memory.swap.max)" });
      } else if (m.limit && isUnlimited(m.limit)) {
        opt("memory.swap.max", "max");
      }
      if (m.swappiness !== undefined && m.swappiness !== -1) {
        out.push({ field: "memory.swappiness", reason: "cgroup v2 has no per-cgroup swappiness" });
      }
      if (m.disableOOMKiller)
        out.push({ field: "memory.disableOOMKiller", reason: "cgroup v2 cannot disable the OOM killer" });
      if (m.kernel) out.push({ field: "memory.kernel", reason: "cgroup v2 has no kernel memory limit" });
      if (m.kernelTCP)
        out.push({ field: "memory.kernelTCP", reason: "cgroup v2 has no kernel TCP memory limit" });
    }
    const c = r.cpu;
    if (c) {
      if (c.shares) w("cpu.weight", int(sharesToWeight(c.shares)));
      if (c.quota || c.period) {
        // "quota period"; without a new quota keep the current one.
        let quota = c.quota ? max(c.quota) : undefined;
        quota ??= (readOptional(fs, `${d}/cpu.max`) ?? "max").split(" ")[0] ?? "max";
        w("cpu.max", c.period ? `${quota} ${int(c.period)}` : quota);
      }
      if (c.burst !== undefined && !opt("cpu.max.burst", int(c.burst))) {
        out.push({ field: "cpu.burst", reason: "cpu.max.burst is not supported by this kernel" });
      }
      if (c.idle !== undefined && !opt("cpu.idle", int(c.idle))) {
        out.push({ field: "cpu.idle", reason: "cpu.idle is not supported by this kernel" });
      }
      if (c.realtimePeriod || c.realtimeRuntime) {
        out.push({ field: "cpu.realtime", reason: "cgroup v2 has no realtime scheduling limits" });
      }
      if (c.cpus) w("cpuset.cpus", c.cpus);
      if (c.mems) w("cpuset.mems", c.mems);
    }
    if (r.pids) w("pids.max", r.pids.limit > 0 ? int(r.pids.limit) : "max");
    const b = r.blockIO;
    if (b) {
      // BFQ takes blkio's own scale (1..1000); io.weight is 1..10000.
      const bfq = fs.exists(`${d}/io.bfq.weight`);
      const weight = (v: number) => (bfq ? int(v) : int(blkioToIoWeight(v)));
      const file = bfq ? "io.bfq.weight" : "io.weight";
      if (b.weight) w(file, weight(b.weight));
      for (const wd of b.weightDevice ?? [])
        if (wd.weight) w(file, `${wd.major}:${wd.minor} ${weight(wd.weight)}`);
      if (b.leafWeight || b.weightDevice?.some((x) => x.leafWeight)) {
        out.push({ field: "blockIO.leafWeight", reason: "cgroup v2 has no leaf weights" });
      }
      const keys = {
        throttleReadBpsDevice: "rbps",
        throttleWriteBpsDevice: "wbps",
        throttleReadIOPSDevice: "riops",
        throttleWriteIOPSDevice: "wiops",
      } as const;
      for (const k of THROTTLES) {
        for (const t of b[k] ?? [])
          w("io.max", `${t.major}:${t.minor} ${keys[k]}=${t.rate === 0 ? "max" : int(t.rate)}`);
      }
    }
    for (const hp of r.hugepageLimits ?? []) {
      const size = hugepageSize(hp.pageSize);
      if (!opt(`hugetlb.${size}.max`, max(hp.limit))) {
        throw invalid(`hugepageLimits: page size ${size} is not supported here (no hugetlb.${size}.max)`);
      }
    }
    if (r.network?.classID !== undefined || r.network?.priorities?.length) {
      out.push({ field: "network", reason: "cgroup v2 has no net_cls or net_prio" });
    }
    for (const [key, value] of Object.entries(r.unified ?? {})) {
      if (!opt(key, value)) throw invalid(`linux.resources.unified["${key}"]: no such file in cgroup ${d}`);
    }
    if (r.devices?.length) out.push({ field: "devices", reason: DEVICES_NOT_ENFORCED });
  }

  pids(path: string): number[] {
    const out = new Set<number>();
    collectPids(this.fs, this.dir(path, true), out);
    return [...out];
  }

  freeze(path: string): void {
    const d = this.dir(path);
    writeSetting(this.fs, `${d}/cgroup.freeze`, "1");
    if (
      !poll(
        () => this.frozenEvent(d) === true,
        () => undefined,
        5000,
      )
    ) {
      writeSetting(this.fs, `${d}/cgroup.freeze`, "0");
      throw new PierError("Unavailable", `freeze cgroup ${path}: not frozen after 5 s`);
    }
  }

  thaw(path: string): void {
    const d = this.dir(path);
    writeSetting(this.fs, `${d}/cgroup.freeze`, "0");
    if (
      !poll(
        () => this.frozenEvent(d) !== true,
        () => undefined,
        5000,
      )
    ) {
      throw new PierError("Unavailable", `thaw cgroup ${path}: still frozen after 5 s`);
    }
  }

  /** The "frozen" line of cgroup.events; undefined if the cgroup is gone. */
  private frozenEvent(d: string): boolean | undefined {
    const ev = readKeyed(this.fs, `${d}/cgroup.events`);
    return ev.size === 0 ? undefined : ev.get("frozen") === 1;
  }

  isFrozen(path: string): boolean {
    return this.frozenEvent(this.dir(path)) === true;
  }

  killAll(path: string, signal: number | NodeJS.Signals, timeoutMs = 5000): void {
    const d = this.dir(path);
    const sig = signalNumber(signal);
    if (sig !== osConstants.signals.SIGKILL) {
      signalPids(this.pids(path), sig);
      return;
    }
    if (!this.fs.exists(d)) return;
    // cgroup.kill (5.14) kills the whole subtree atomically; before it, freeze/kill/thaw.
    if (!writeSetting(this.fs, `${d}/cgroup.kill`, "1", { optional: true })) {
      let frozen = false;
      try {
        this.freeze(path);
        frozen = true;
      } catch {
        // kill anyway; the wait below shows whether anything escaped
      }
      try {
        signalPids(this.pids(path), sig);
      } finally {
        if (frozen) this.thaw(path);
      }
    }
    waitEmpty(`kill cgroup ${path}`, () => this.pids(path).length === 0, timeoutMs);
  }

  destroy(path: string): void {
    removeTree(this.fs, this.dir(path));
  }

  exists(path: string): boolean {
    return this.fs.exists(this.dir(path, true));
  }

  stats(path: string): CgroupStats {
    const d = this.dir(path, true);
    if (!this.fs.exists(d)) throw notFound(`cgroup ${path} does not exist`);
    const fs = this.fs;
    const ev = readKeyed(fs, `${d}/memory.events`);
    const cpu = readKeyed(fs, `${d}/cpu.stat`);
    const us = (k: string) => (cpu.get(k) ?? 0) * 1000;
    return {
      memory: {
        usage: readNumber(fs, `${d}/memory.current`),
        maxUsage: fs.exists(`${d}/memory.peak`) ? readNumber(fs, `${d}/memory.peak`) : null,
        limit: readLimit(fs, `${d}/memory.max`),
        failcnt: ev.get("max") ?? 0,
        oomKills: ev.get("oom_kill") ?? 0,
      },
      cpu: {
        usageNs: us("usage_usec"),
        userNs: us("user_usec"),
        systemNs: us("system_usec"),
        periods: cpu.get("nr_periods") ?? 0,
        throttledPeriods: cpu.get("nr_throttled") ?? 0,
        throttledNs: us("throttled_usec"),
      },
      pids: { current: readNumber(fs, `${d}/pids.current`), limit: readLimit(fs, `${d}/pids.max`) },
    };
  }

  mountSources(path: string): CgroupMountSource[] {
    return [{ name: "", hostPath: this.dir(path) }];
  }

  mountSymlinks(): CgroupSymlink[] {
    return [];
  }
}
