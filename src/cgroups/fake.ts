/**
 * Test doubles:
 * - `FakeCgroupManager`: an in-memory manager that records calls, for tests of the layers
 *   above (the runtime) that must not touch the host's cgroups.
 * - `FakeCgroup2Fs` with `makeFakeCgroup2Root`: cgroup v2's filesystem emulated on a plain
 *   directory, so `CgroupV2` can be tested on a host without a usable v2 hierarchy. It does
 *   what the kernel does that matters to the driver: mkdir creates the interface files of
 *   the controllers the parent enables, writes to missing files fail, subtree_control,
 *   io.max and cgroup.freeze keep the kernel's view, rmdir refuses a cgroup with children.
 */
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  rmdirSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import type { Resources } from "../oci/runtime-spec.ts";
import { notFound } from "../common/errors.ts";
import type { CgroupManager, CgroupMountSource, CgroupStats, CgroupSymlink, Unenforced } from "./manager.ts";
import { type CgroupFs, checkPath, realFs, validateResources } from "./common.ts";

export interface FakeCgroup {
  resources: Resources[];
  pids: number[];
  frozen: boolean;
}

export class FakeCgroupManager implements CgroupManager {
  readonly calls: string[] = [];
  readonly cgroups = new Map<string, FakeCgroup>();

  constructor(readonly version: 1 | 2 = 2) {}

  private get(path: string): FakeCgroup {
    const c = this.cgroups.get(checkPath(path, true));
    if (!c) throw notFound(`cgroup ${path} does not exist`);
    return c;
  }

  create(path: string, resources?: Resources): Unenforced[] {
    const p = checkPath(path);
    if (resources) validateResources(resources);
    this.calls.push(`create ${p}`);
    const c = this.cgroups.get(p) ?? { resources: [], pids: [], frozen: false };
    this.cgroups.set(p, c);
    if (resources) c.resources.push(resources);
    return [];
  }
  procsFiles(path: string): string[] {
    return [`/fake/cgroup${checkPath(path)}/cgroup.procs`];
  }
  apply(path: string, resources: Resources): Unenforced[] {
    validateResources(resources);
    this.calls.push(`apply ${checkPath(path)}`);
    this.get(path).resources.push(resources);
    return [];
  }
  pids(path: string): number[] {
    return [...(this.cgroups.get(checkPath(path, true))?.pids ?? [])];
  }
  freeze(path: string): void {
    this.calls.push(`freeze ${path}`);
    this.get(path).frozen = true;
  }
  thaw(path: string): void {
    this.calls.push(`thaw ${path}`);
    this.get(path).frozen = false;
  }
  isFrozen(path: string): boolean {
    return this.cgroups.get(checkPath(path, true))?.frozen ?? false;
  }
  killAll(path: string, signal: number | NodeJS.Signals): void {
    this.calls.push(`killAll ${path} ${signal}`);
    const c = this.cgroups.get(checkPath(path));
    if (c && (signal === "SIGKILL" || signal === 9)) c.pids = [];
  }
  destroy(path: string): void {
    const p = checkPath(path);
    this.calls.push(`destroy ${p}`);
    for (const k of [...this.cgroups.keys()]) if (k === p || k.startsWith(p + "/")) this.cgroups.delete(k);
  }
  exists(path: string): boolean {
    return this.cgroups.has(checkPath(path, true));
  }
  stats(path: string): CgroupStats {
    const c = this.get(path);
    const last = <T>(f: (r: Resources) => T | undefined): T | undefined =>
      c.resources.map(f).findLast((x) => x !== undefined);
    const lim = (n: number | undefined) => (n === undefined || n <= 0 ? null : n);
    return {
      memory: { usage: 0, maxUsage: 0, limit: lim(last((r) => r.memory?.limit)), failcnt: 0, oomKills: 0 },
      cpu: { usageNs: 0, userNs: 0, systemNs: 0, periods: 0, throttledPeriods: 0, throttledNs: 0 },
      pids: { current: c.pids.length, limit: lim(last((r) => r.pids?.limit)) },
    };
  }
  mountSources(path: string): CgroupMountSource[] {
    return [{ name: "", hostPath: `/fake/cgroup${checkPath(path)}` }];
  }
  mountSymlinks(): CgroupSymlink[] {
    return [];
  }
}

// ---------------------------------------------------------------------------------------

export interface FakeCgroup2Options {
  /** Controllers of the root (its cgroup.controllers); default cpu memory pids io cpuset hugetlb. */
  controllers?: string[];
  /** Whether memory.swap.max exists (swap accounting); default true. */
  swap?: boolean;
  /** Whether io.bfq.weight exists; default false. */
  bfq?: boolean;
  /** Whether cgroup.kill exists (5.14+); default true. */
  kill?: boolean;
  /** Huge page sizes; default ["2MB", "1GB"]. */
  hugepages?: string[];
}

/** Prepares a fake cgroup2 root in `dir` (created if missing); returns the fs that emulates it. */
export function makeFakeCgroup2Root(dir: string, opts: FakeCgroup2Options = {}): FakeCgroup2Fs {
  mkdirSync(dir, { recursive: true });
  const controllers = opts.controllers ?? ["cpu", "memory", "pids", "io", "cpuset", "hugetlb"];
  writeFileSync(`${dir}/cgroup.controllers`, controllers.join(" ") + "\n");
  writeFileSync(`${dir}/cgroup.subtree_control`, "\n");
  writeFileSync(`${dir}/cgroup.procs`, "");
  return new FakeCgroup2Fs(opts);
}

export class FakeCgroup2Fs implements CgroupFs {
  constructor(private readonly opts: FakeCgroup2Options = {}) {}

  mkdir(dir: string): boolean {
    if (!realFs.mkdir(dir)) return false;
    const parent = dir.slice(0, dir.lastIndexOf("/"));
    const enabled = this.words(`${parent}/cgroup.subtree_control`);
    const files: Record<string, string> = {
      "cgroup.procs": "",
      "cgroup.controllers": enabled.join(" "),
      "cgroup.subtree_control": "",
      "cgroup.events": "populated 0\nfrozen 0",
      "cgroup.freeze": "0",
      "cgroup.type": "domain",
    };
    if (this.opts.kill !== false) files["cgroup.kill"] = "";
    for (const c of enabled) Object.assign(files, CONTROLLER_FILES[c]?.(this.opts) ?? {});
    for (const [name, content] of Object.entries(files))
      writeFileSync(`${dir}/${name}`, content ? content + "\n" : "");
    return true;
  }

  rmdir(dir: string): void {
    if (!existsSync(dir)) throw errnoError("ENOENT", "rmdir", dir);
    if (realFs.subdirs(dir).length > 0 || this.read(`${dir}/cgroup.procs`).trim() !== "") {
      throw errnoError("EBUSY", "rmdir", dir);
    }
    for (const f of readdirSync(dir)) unlinkSync(`${dir}/${f}`);
    rmdirSync(dir);
  }

  read(file: string): string {
    return readFileSync(file, "utf8");
  }

  write(file: string, ...values: string[]): void {
    if (!existsSync(file)) throw errnoError("ENOENT", "open", file);
    for (const v of values) this.writeOne(file, v);
  }

  private writeOne(file: string, value: string): void {
    const name = file.slice(file.lastIndexOf("/") + 1);
    const dir = file.slice(0, file.lastIndexOf("/"));
    const v = value.trim();
    const refuse = () => errnoError("EINVAL", "write", file);
    if (name === "cgroup.subtree_control") {
      const avail = new Set(this.words(`${dir}/cgroup.controllers`));
      const on = new Set(this.words(file));
      for (const t of v.split(/\s+/)) {
        const c = t.slice(1);
        if (!avail.has(c) || (t[0] !== "+" && t[0] !== "-")) throw errnoError("ENOENT", "write", file);
        if (t[0] === "+") on.add(c);
        else on.delete(c);
      }
      return writeFileSync(file, [...on].join(" ") + "\n");
    }
    if (name === "cgroup.freeze") {
      if (v !== "0" && v !== "1") throw refuse();
      writeFileSync(`${dir}/cgroup.events`, `populated 0\nfrozen ${v}\n`);
    } else if (name === "cgroup.kill") {
      if (v !== "1") throw refuse();
      return;
    } else if (name === "io.max" || name === "io.weight" || name === "io.bfq.weight") {
      return writeFileSync(file, mergeDeviceLine(this.read(file), v, name === "io.max"));
    } else if (NUMERIC.test(name)) {
      if (!/^(\d+|max)$/.test(v)) throw refuse();
    } else if (name === "cpu.weight") {
      if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 10000) throw refuse();
    } else if (name === "cpu.max") {
      if (!/^(\d+|max)( \d+)?$/.test(v)) throw refuse();
      if (!v.includes(" "))
        return writeFileSync(file, `${v} ${this.read(file).trim().split(" ")[1] ?? "100000"}\n`);
    }
    writeFileSync(file, v + "\n");
  }

  exists(path: string): boolean {
    return existsSync(path);
  }

  subdirs(dir: string): string[] {
    return realFs.subdirs(dir);
  }

  private words(file: string): string[] {
    return existsSync(file) ? readFileSync(file, "utf8").split(/\s+/).filter(Boolean) : [];
  }
}

/** Removes a fake root (plain files, unlike real cgroupfs). */
export function removeFakeCgroup2Root(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

const NUMERIC = /^(memory\.(max|low|min|high|swap\.max)|pids\.max|hugetlb\..+\.max)$/;

const CONTROLLER_FILES: Record<string, (o: FakeCgroup2Options) => Record<string, string>> = {
  memory: (o) => ({
    "memory.current": "0",
    "memory.peak": "0",
    "memory.max": "max",
    "memory.high": "max",
    "memory.low": "0",
    "memory.min": "0",
    "memory.events": "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0",
    "memory.stat": "anon 0",
    ...(o.swap === false ? {} : { "memory.swap.max": "max", "memory.swap.current": "0" }),
  }),
  cpu: () => ({
    "cpu.weight": "100",
    "cpu.max": "max 100000",
    "cpu.max.burst": "0",
    "cpu.idle": "0",
    "cpu.stat": "usage_usec 0\nuser_usec 0\nsystem_usec 0\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0",
  }),
  pids: () => ({ "pids.max": "max", "pids.current": "0", "pids.events": "max 0" }),
  io: (o) => ({
    "io.weight": "default 100",
    "io.max": "",
    "io.stat": "",
    ...(o.bfq ? { "io.bfq.weight": "default 100" } : {}),
  }),
  cpuset: () => ({
    "cpuset.cpus": "",
    "cpuset.mems": "",
    "cpuset.cpus.effective": "0",
    "cpuset.mems.effective": "0",
  }),
  hugetlb: (o) => Object.fromEntries((o.hugepages ?? ["2MB", "1GB"]).map((s) => [`hugetlb.${s}.max`, "max"])),
};

/** io.max / io.weight keep one line per device; a write updates that device's line. */
function mergeDeviceLine(current: string, line: string, keyed: boolean): string {
  const lines = current.split("\n").filter(Boolean);
  const [dev = "", ...rest] = line.split(" ");
  if (!/^\d+:\d+$/.test(dev)) {
    // "default N" or a bare weight
    const def = `default ${line.replace(/^default /, "")}`;
    const i = lines.findIndex((l) => l.startsWith("default "));
    if (i >= 0) lines[i] = def;
    else lines.unshift(def);
    return lines.join("\n") + "\n";
  }
  const i = lines.findIndex((l) => l.startsWith(dev + " "));
  if (!keyed) {
    if (i >= 0) lines[i] = line;
    else lines.push(line);
    return lines.join("\n") + "\n";
  }
  const kv = new Map<string, string>([
    ["rbps", "max"],
    ["wbps", "max"],
    ["riops", "max"],
    ["wiops", "max"],
  ]);
  if (i >= 0) for (const p of lines[i]!.split(" ").slice(1)) kv.set(p.split("=")[0]!, p.split("=")[1]!);
  for (const p of rest) kv.set(p.split("=")[0]!, p.split("=")[1]!);
  const merged = `${dev} ${[...kv].map(([k, v]) => `${k}=${v}`).join(" ")}`;
  if (i >= 0) lines[i] = merged;
  else lines.push(merged);
  return lines.join("\n") + "\n";
}

function errnoError(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`${code}: ${syscall} '${path}'`);
  e.code = code;
  e.syscall = syscall;
  e.path = path;
  return e;
}
