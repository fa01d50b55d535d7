/**
 * What docker reads off a container besides its record: top (ps of its processes), stats
 * (its cgroup's counters), changes (its writable layer against the image), commit, and
 * pier's `explain` (namespaces, cgroup, layer stack, mounts, ports, in the seeds' terms).
 */
import { execFile } from "node:child_process";
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import type {
  ChangesItem,
  ContainerExplain,
  ContainerStats,
  ContainerTopResponse,
  ExplainLayer,
} from "../../api/container-types.ts";
import { PierError } from "../../common/errors.ts";
import { applyChanges } from "../../image/index.ts";
import { pids as runtimePids } from "../../runtime/index.ts";
import type { Engine } from "./engine.ts";
import { networkModeOf } from "./engine.ts";
import type { ContainerRecord } from "./record.ts";
import { withInitLayer } from "./rootfs.ts";

const run = promisify(execFile);

function running(rec: ContainerRecord): boolean {
  return rec.state.status === "running" || rec.state.status === "paused";
}

/** `docker top`: host `ps` with the given options, only the container's processes. */
export async function top(
  engine: Engine,
  rec: ContainerRecord,
  psArgs = "-ef",
): Promise<ContainerTopResponse> {
  if (!running(rec)) throw new PierError("Conflict", `Container ${rec.id} is not running`);
  const pids = new Set(runtimePids(engine.runtime, rec.id));
  const args = psArgs.trim() ? psArgs.trim().split(/\s+/) : ["-ef"];
  let out: string;
  try {
    out = (await run("ps", args, { maxBuffer: 16 << 20 })).stdout;
  } catch (err) {
    throw new PierError("InvalidArgument", `ps ${args.join(" ")}: ${(err as Error).message}`);
  }
  const lines = out.split("\n").filter(Boolean);
  const header = lines[0] ?? "";
  const titles = header.trim().split(/\s+/);
  const pidCol = titles.indexOf("PID");
  if (pidCol < 0) throw new PierError("InvalidArgument", `Couldn't find PID field in ps output`);
  const processes: string[][] = [];
  for (const l of lines.slice(1)) {
    const f = l.trim().split(/\s+/);
    if (!pids.has(Number(f[pidCol]))) continue;
    const row = f.slice(0, titles.length - 1);
    row.push(f.slice(titles.length - 1).join(" "));
    processes.push(row);
  }
  return { Titles: titles, Processes: processes };
}

function readNum(path: string): number {
  try {
    return Number(readFileSync(path, "utf8").trim()) || 0;
  } catch {
    return 0;
  }
}

function systemCpuNs(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const ticks = line
    .split(/\s+/)
    .slice(1, 8)
    .reduce((a, b) => a + Number(b || 0), 0);
  return ticks * 10_000_000; // USER_HZ = 100
}

function netStats(pid: number): ContainerStats["networks"] {
  const out: NonNullable<ContainerStats["networks"]> = {};
  try {
    for (const l of readFileSync(`/proc/${pid}/net/dev`, "utf8").split("\n").slice(2)) {
      const m = /^\s*([^:]+):\s*(.*)$/.exec(l);
      if (!m || m[1] === "lo") continue;
      const v = m[2]!.trim().split(/\s+/).map(Number);
      out[m[1]!] = {
        rx_bytes: v[0] ?? 0,
        rx_packets: v[1] ?? 0,
        rx_errors: v[2] ?? 0,
        rx_dropped: v[3] ?? 0,
        tx_bytes: v[8] ?? 0,
        tx_packets: v[9] ?? 0,
        tx_errors: v[10] ?? 0,
        tx_dropped: v[11] ?? 0,
      };
    }
  } catch {
    // gone
  }
  return out;
}

/** One docker stats sample. */
export function stats(engine: Engine, rec: ContainerRecord, prev?: ContainerStats): ContainerStats {
  const cpus = readFileSync("/proc/cpuinfo", "utf8")
    .split("\n")
    .filter((l) => l.startsWith("processor")).length;
  let s;
  try {
    s = running(rec) ? engine.runtime.cgroups.stats(`/pier/${rec.id}`) : undefined;
  } catch {
    s = undefined;
  }
  const memStat: Record<string, number> = {};
  try {
    for (const l of readFileSync(`/sys/fs/cgroup/memory/pier/${rec.id}/memory.stat`, "utf8").split("\n")) {
      const [k, v] = l.split(" ");
      if (k) memStat[k] = Number(v);
    }
  } catch {
    // v2 or gone
  }
  const now = new Date().toISOString();
  const cur: ContainerStats = {
    read: now,
    preread: prev?.read ?? "0001-01-01T00:00:00Z",
    pids_stats: s
      ? { current: s.pids.current, ...(s.pids.limit !== null ? { limit: s.pids.limit } : {}) }
      : {},
    blkio_stats: {
      io_service_bytes_recursive: null,
      io_serviced_recursive: null,
      io_queue_recursive: null,
      io_service_time_recursive: null,
      io_wait_time_recursive: null,
      io_merged_recursive: null,
      io_time_recursive: null,
      sectors_recursive: null,
    },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: {
      cpu_usage: {
        total_usage: s?.cpu.usageNs ?? 0,
        usage_in_kernelmode: s?.cpu.systemNs ?? 0,
        usage_in_usermode: s?.cpu.userNs ?? 0,
      },
      system_cpu_usage: systemCpuNs(),
      online_cpus: cpus,
      throttling_data: {
        periods: s?.cpu.periods ?? 0,
        throttled_periods: s?.cpu.throttledPeriods ?? 0,
        throttled_time: s?.cpu.throttledNs ?? 0,
      },
    },
    precpu_stats: prev?.cpu_stats ?? {
      cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
      online_cpus: cpus,
      throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
    },
    memory_stats: s
      ? {
          usage: s.memory.usage,
          ...(s.memory.maxUsage !== null ? { max_usage: s.memory.maxUsage } : {}),
          limit: s.memory.limit ?? readMemTotal(),
          stats: memStat,
          failcnt: s.memory.failcnt,
        }
      : {},
    name: `/${rec.name}`,
    id: rec.id,
    networks: running(rec) ? netStats(rec.state.pid) : {},
  } as ContainerStats;
  return cur;
}

function readMemTotal(): number {
  const m = /MemTotal:\s+(\d+)/.exec(readFileSync("/proc/meminfo", "utf8"));
  return m ? Number(m[1]) * 1024 : 0;
}

/** `docker diff`: the writable layer against what is under it. */
export async function changes(engine: Engine, rec: ContainerRecord): Promise<ChangesItem[]> {
  const layered = withInitLayer(
    await engine.opts.images.rootfsMounts(rec.snapshotKey),
    engine.files(rec.id).init,
  );
  const upper = layered.upperDir;
  if (!upper) return [];
  const lowers = layered.lowerDirs.slice(1); // not the init layer
  const inLower = (rel: string) =>
    lowers.some((l) => {
      try {
        lstatSync(join(l, rel));
        return true;
      } catch {
        return false;
      }
    });
  const out: ChangesItem[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(upper, rel))) {
      const r = `${rel}/${name}`;
      const st = lstatSync(join(upper, r));
      if (st.isCharacterDevice() && st.rdev === 0) {
        out.push({ Path: r, Kind: 2 });
        continue;
      }
      out.push({ Path: r, Kind: inLower(r) ? 0 : 1 });
      if (st.isDirectory()) walk(r);
    }
  };
  walk("");
  return out.sort((a, b) => a.Path.localeCompare(b.Path));
}

/** `docker commit`: the writable layer (only it) becomes a new image on top of the container's. */
export async function commit(
  engine: Engine,
  rec: ContainerRecord,
  o: { name?: string; comment?: string; author?: string; changes?: string[]; pause?: boolean },
): Promise<string> {
  const cfg = rec.config;
  const base: Record<string, unknown> = {
    User: cfg.User ?? "",
    Env: cfg.Env ?? [],
    Cmd: cfg.Cmd ?? null,
    Entrypoint: cfg.Entrypoint ?? null,
    WorkingDir: cfg.WorkingDir ?? "",
    ...(cfg.ExposedPorts ? { ExposedPorts: cfg.ExposedPorts } : {}),
    ...(cfg.Volumes ? { Volumes: cfg.Volumes } : {}),
    ...(cfg.Labels && Object.keys(cfg.Labels).length ? { Labels: cfg.Labels } : {}),
    ...(cfg.StopSignal ? { StopSignal: cfg.StopSignal } : {}),
  };
  const config = applyChanges(base as never, o.changes ?? []);
  const pause = o.pause !== false && rec.state.status === "running";
  if (pause) await engine.pause(rec.id);
  try {
    const r = await engine.opts.images.commit(rec.snapshotKey, {
      ...(o.name ? { name: o.name } : {}),
      parentImage: rec.imageId,
      config,
      ...(o.comment ? { comment: o.comment } : {}),
      ...(o.author ? { author: o.author } : {}),
      createdBy: [rec.path, ...rec.args].join(" "),
    });
    return r.id;
  } finally {
    if (pause) await engine.unpause(rec.id).catch(() => undefined);
  }
}

const NS_TYPES = ["pid", "mnt", "net", "uts", "ipc", "user", "cgroup"];

function nsInode(pid: number, t: string): number {
  try {
    const m = /\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/${t}`));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function duBytes(path: string): Promise<number> {
  return run("du", ["-sxb", path]).then(
    (r) => Number(r.stdout.split("\t")[0]) || 0,
    () => 0,
  );
}

/** pier explain: what the container is made of. */
export async function explain(engine: Engine, rec: ContainerRecord): Promise<ContainerExplain> {
  const live = running(rec);
  const pid = live ? rec.state.pid : 0;
  const others = live ? (await engine.list()).filter((r) => r.id !== rec.id && running(r)) : [];
  const namespaces = live
    ? NS_TYPES.map((t) => {
        const ino = nsInode(pid, t);
        let shared = "private";
        if (ino === nsInode(process.pid, t)) shared = "host";
        else {
          const o = others.find((r) => nsInode(r.state.pid, t) === ino);
          if (o) shared = `container:${o.name}`;
        }
        return { Type: t, Inode: ino, Shared: shared };
      })
    : [];
  const cg = `/pier/${rec.id}`;
  const v1 = (ctrl: string, file: string) => readNum(`/sys/fs/cgroup/${ctrl}${cg}/${file}`);
  const limits: ContainerExplain["Cgroup"]["Limits"] = {};
  const usage: ContainerExplain["Cgroup"]["Usage"] = {};
  if (live) {
    const mem = v1("memory", "memory.limit_in_bytes");
    if (mem && mem < 2 ** 62) limits.Memory = mem;
    const sw = v1("memory", "memory.memsw.limit_in_bytes");
    if (sw && sw < 2 ** 62) limits.MemorySwap = sw;
    const quota = v1("cpu,cpuacct", "cpu.cfs_quota_us") || v1("cpu", "cpu.cfs_quota_us");
    const period = v1("cpu,cpuacct", "cpu.cfs_period_us") || v1("cpu", "cpu.cfs_period_us");
    if (quota > 0)
      Object.assign(limits, {
        CpuQuota: quota,
        CpuPeriod: period,
        Cpus: Math.round((quota / period) * 100) / 100,
      });
    const shares = v1("cpu,cpuacct", "cpu.shares") || v1("cpu", "cpu.shares");
    if (shares && shares !== 1024) limits.CpuShares = shares;
    try {
      const cs = readFileSync(`/sys/fs/cgroup/cpuset${cg}/cpuset.cpus`, "utf8").trim();
      if (cs) limits.CpusetCpus = cs;
    } catch {
      // no cpuset
    }
    try {
      const p = readFileSync(`/sys/fs/cgroup/pids${cg}/pids.max`, "utf8").trim();
      if (p !== "max") limits.PidsMax = Number(p);
    } catch {
      // no pids
    }
    try {
      const s = engine.runtime.cgroups.stats(cg);
      usage.Memory = s.memory.usage;
      usage.Pids = s.pids.current;
      usage.CpuSeconds = Math.round(s.cpu.usageNs / 1e7) / 100;
    } catch {
      // gone
    }
  }
  const f = engine.files(rec.id);
  const layers: ExplainLayer[] = [];
  try {
    const layered = withInitLayer(await engine.opts.images.rootfsMounts(rec.snapshotKey), f.init);
    const img = await engine.opts.images.resolve(rec.imageId);
    const diffs = img.config.rootfs.diff_ids;
    const hist = (img.config.history ?? []).filter((h) => !h.empty_layer);
    const imageDirs = layered.lowerDirs.slice(1).reverse(); // bottom first
    for (const [i, dir] of imageDirs.entries()) {
      const createdBy = hist[i]?.created_by;
      layers.push({
        Kind: "image",
        ...(diffs[i] ? { Id: diffs[i] } : {}),
        ...(createdBy ? { CreatedBy: createdBy } : {}),
        Path: dir,
        Size: await duBytes(dir),
      });
    }
    layers.push({ Kind: "init", Path: f.init, Size: await duBytes(f.init) });
    if (layered.upperDir)
      layers.push({ Kind: "container", Path: layered.upperDir, Size: await duBytes(layered.upperDir) });
  } catch {
    // snapshot gone
  }
  const ports: ContainerExplain["Ports"] = [];
  for (const [k, v] of Object.entries(live ? rec.ports : {})) {
    const [p, proto = "tcp"] = k.split("/");
    for (const b of v)
      ports.push({ HostIp: b.HostIp, HostPort: b.HostPort, ContainerPort: p!, Protocol: proto });
  }
  const first = Object.values(rec.endpoints)[0];
  return {
    Id: rec.id,
    Name: rec.name,
    Image: rec.image,
    Process: { HostPid: pid, Command: [rec.path, ...rec.args] },
    Namespaces: namespaces,
    Cgroup: { Path: cg, Limits: limits, Usage: usage },
    Layers: layers,
    Mounts: rec.mounts.map((m) => ({
      Type: m.Type,
      ...(m.Name ? { Name: m.Name } : {}),
      Source: m.Source,
      Destination: m.Destination,
      RW: m.RW,
    })),
    Ports: ports,
    Network: {
      Mode: networkModeOf(rec.hostConfig),
      ...(first?.IPAddress ? { IPAddress: first.IPAddress } : {}),
      ...(first?.Gateway ? { Gateway: first.Gateway } : {}),
      Networks: Object.keys(rec.endpoints),
    },
    Lxcfs: live && rec.lxcfs,
  };
}
