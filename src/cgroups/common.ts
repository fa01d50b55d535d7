/**
 * What the v1 and v2 drivers share: the few filesystem operations they use (behind
 * `CgroupFs`, so a test can emulate cgroupfs on a plain directory), writing a setting with
 * the kernel's refusals turned into errors, validation of resources and paths, removal of a
 * cgroup tree, and signalling.
 */
import {
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readSync,
  readdirSync,
  rmdirSync,
  writeSync,
} from "node:fs";
import { constants as osConstants } from "node:os";
import type { DeviceCgroup, Resources } from "../oci/runtime-spec.ts";
import { PierError, invalid, notFound, precondition, wrap } from "../common/errors.ts";

/** The filesystem operations of the drivers. Errors are Node's (with `code`). */
export interface CgroupFs {
  /** Creates one directory; false if it already existed. */
  mkdir(dir: string): boolean;
  rmdir(dir: string): void;
  read(file: string): string;
  /**
   * Opens an existing file (O_WRONLY|O_TRUNC, never O_CREAT) and writes each value with
   * its own write(2), as the kernel takes one setting per write (devices.allow rules).
   * A failed write's error carries the value in `value`.
   */
  write(file: string, ...values: string[]): void;
  exists(path: string): boolean;
  /** Names of the subdirectories (child cgroups). */
  subdirs(dir: string): string[];
}

let readBuf = Buffer.alloc(16384);

export const realFs: CgroupFs = {
  mkdir(dir) {
    try {
      mkdirSync(dir);
      return true;
    } catch (err) {
      if (errno(err) === "EEXIST") return false;
      throw err;
    }
  },
  rmdir: (dir) => rmdirSync(dir),
  read(file) {
    // Cheaper than readFileSync (no fstat, no allocation) for the small files of cgroupfs.
    const fd = openSync(file, constants.O_RDONLY);
    try {
      let len = 0;
      for (;;) {
        if (len === readBuf.length) readBuf = Buffer.concat([readBuf, Buffer.alloc(readBuf.length)]);
        const n = readSync(fd, readBuf, len, readBuf.length - len, null);
        if (n === 0) return readBuf.toString("utf8", 0, len);
        len += n;
      }
    } finally {
      closeSync(fd);
    }
  },
  write(file, ...values) {
    const fd = openSync(file, constants.O_WRONLY | constants.O_TRUNC);
    try {
      for (const v of values) {
        try {
          writeSync(fd, v);
        } catch (err) {
          throw Object.assign(err as Error, { value: v });
        }
      }
    } finally {
      closeSync(fd);
    }
  },
  exists: (p) => existsSync(p),
  subdirs(dir) {
    const out: string[] = [];
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) out.push(e.name);
    return out;
  },
};

export function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** Creates one cgroup directory; false if it existed. */
export function makeDir(fs: CgroupFs, dir: string): boolean {
  try {
    return fs.mkdir(dir);
  } catch (err) {
    throw wrap(err, `create cgroup ${dir}`);
  }
}

/** Creates `dir` and its missing parents. */
export function mkdirp(fs: CgroupFs, dir: string): void {
  try {
    fs.mkdir(dir);
  } catch (err) {
    if (errno(err) !== "ENOENT") throw wrap(err, `create cgroup ${dir}`);
    mkdirp(fs, parentOf(dir));
    makeDir(fs, dir);
  }
}

function parentOf(dir: string): string {
  const i = dir.lastIndexOf("/");
  return i <= 0 ? "/" : dir.slice(0, i);
}

/** Kernel refusals of a value, as opposed to failures of the machinery. */
const REFUSED = new Set(["EINVAL", "EBUSY", "ERANGE", "EOVERFLOW", "ENODEV", "ENXIO"]);

/**
 * Writes a setting (several values: one write(2) each, as device rules). A refused value is
 * `InvalidArgument` naming file and value; a missing file is `FailedPrecondition`
 * (controller not available) unless `optional`, in which case nothing is written and false
 * returned.
 */
export function writeSetting(
  fs: CgroupFs,
  file: string,
  value: string | string[],
  opts: { optional?: boolean; hint?: string } = {},
): boolean {
  try {
    if (typeof value === "string") fs.write(file, value);
    else fs.write(file, ...value);
    return true;
  } catch (err) {
    const code = errno(err);
    if (code === "ENOENT") {
      if (opts.optional) return false;
      if (!fs.exists(dirOf(file))) throw notFound(`cgroup ${dirOf(file)} does not exist`);
      throw precondition(`cgroup file ${file} does not exist`, "is the controller enabled for this cgroup?");
    }
    const failed = String((err as { value?: unknown }).value ?? value).trim();
    if (code !== undefined && REFUSED.has(code)) {
      throw new PierError("InvalidArgument", `cgroup ${file}: the kernel refused "${failed}" (${code})`, {
        cause: err,
        ...(opts.hint === undefined ? {} : { hint: opts.hint }),
      });
    }
    throw wrap(err, `write "${failed}" to ${file}`);
  }
}

export function dirOf(file: string): string {
  return file.slice(0, file.lastIndexOf("/"));
}

/** Reads a file, trimmed; undefined if it does not exist. */
export function readOptional(fs: CgroupFs, file: string): string | undefined {
  try {
    return fs.read(file).trim();
  } catch (err) {
    if (errno(err) === "ENOENT") return undefined;
    throw wrap(err, `read ${file}`);
  }
}

/** A number from a file: `null` for "max"/unlimited (>= 2^62), 0 when the file is absent. */
export function readLimit(fs: CgroupFs, file: string): number | null {
  const s = readOptional(fs, file);
  if (s === undefined || s === "max") return null;
  const n = Number(s);
  return n >= 2 ** 62 ? null : n;
}

export function readNumber(fs: CgroupFs, file: string): number {
  const s = readOptional(fs, file);
  return s === undefined || s === "" ? 0 : Number(s.split(/\s/)[0]);
}

/** Parses "key value" lines (memory.stat, cpu.stat, memory.events, oom_control...). */
export function readKeyed(fs: CgroupFs, file: string): Map<string, number> {
  const out = new Map<string, number>();
  const s = readOptional(fs, file);
  if (s === undefined) return out;
  for (const line of s.split("\n")) {
    const sp = line.indexOf(" ");
    if (sp > 0) out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

/** The pids in a cgroup.procs file and those of every descendant. */
export function collectPids(fs: CgroupFs, dir: string, out: Set<number>): void {
  const s = readOptional(fs, `${dir}/cgroup.procs`);
  if (s === undefined) return;
  for (const line of s.split("\n")) if (line !== "") out.add(Number(line));
  for (const sub of fs.subdirs(dir)) collectPids(fs, `${dir}/${sub}`, out);
}

/**
 * Removes a cgroup directory and its descendants. rmdir is tried first (one syscall in the
 * common case); EBUSY means child cgroups, removed first, or processes: an exiting process
 * can keep a v1 cgroup busy for a moment after it left cgroup.procs, so retry briefly.
 */
export function removeTree(fs: CgroupFs, dir: string): void {
  let listed = false;
  let delay = 1;
  for (let waited = 0; ;) {
    try {
      fs.rmdir(dir);
      return;
    } catch (err) {
      const code = errno(err);
      if (code === "ENOENT") return;
      if (code !== "EBUSY") throw wrap(err, `remove cgroup ${dir}`);
    }
    if (!listed) {
      listed = true;
      const subs = fs.subdirs(dir);
      for (const s of subs) removeTree(fs, `${dir}/${s}`);
      if (subs.length > 0) continue;
    }
    if (waited >= 500) {
      throw precondition(
        `remove cgroup ${dir}: busy, processes are still in it`,
        "kill them first (killAll)",
      );
    }
    sleepMs(delay);
    waited += delay;
    delay = Math.min(delay * 2, 50);
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

export function sleepMs(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

export function signalNumber(signal: number | NodeJS.Signals): number {
  if (typeof signal === "number") {
    if (!Number.isInteger(signal) || signal < 0 || signal > 64) throw invalid(`invalid signal ${signal}`);
    return signal;
  }
  const n = (osConstants.signals as Record<string, number | undefined>)[signal];
  if (n === undefined) throw invalid(`unknown signal ${signal}`);
  return n;
}

export function signalPids(pids: Iterable<number>, sig: number): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch (err) {
      if (errno(err) !== "ESRCH") throw wrap(err, `kill ${pid}`);
    }
  }
}

/** Polls `isEmpty` until true or `timeoutMs` passes (then `Unavailable`). */
export function waitEmpty(what: string, isEmpty: () => boolean, timeoutMs: number): void {
  const deadline = Date.now() + timeoutMs;
  let delay = 0.1;
  while (!isEmpty()) {
    if (Date.now() >= deadline) {
      throw new PierError("Unavailable", `${what}: processes still alive after ${timeoutMs} ms`);
    }
    sleepMs(delay);
    delay = Math.min(delay * 2, 20);
  }
}

/** Polls `done` until true, re-running `poke` now and then; false on timeout. */
export function poll(done: () => boolean, poke: () => void, timeoutMs: number): boolean {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; ; i++) {
    if (done()) return true;
    if (Date.now() >= deadline) return false;
    if (i % 10 === 9) poke();
    sleepMs(i < 10 ? 0.1 : 1);
  }
}

// ---------------------------------------------------------------------------------------
// Paths

/**
 * Checks a cgroup path ("/pier/abc") and returns it without a trailing slash. `/` itself
 * (the root cgroup) is refused unless `allowRoot`: pier never configures or removes it.
 */
export function checkPath(path: string, allowRoot = false): string {
  if (typeof path !== "string" || !path.startsWith("/")) {
    throw invalid(`cgroup path ${JSON.stringify(path)} must be absolute`);
  }
  const p = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
  if (p === "/") {
    if (allowRoot) return "";
    throw invalid("the root cgroup cannot be used for a container");
  }
  for (const c of p.slice(1).split("/")) {
    if (c === "" || c === "." || c === ".." || c.includes("\0"))
      throw invalid(`invalid cgroup path ${JSON.stringify(path)}`);
  }
  return p;
}

// ---------------------------------------------------------------------------------------
// Values

/** OCI numbers that mean "no limit": -1, and anything at or above int64's maximum. */
export function isUnlimited(n: number): boolean {
  return n === -1 || n >= 2 ** 63 - 1024;
}

export function int(n: number): string {
  return BigInt(n).toString();
}

/** cpu.shares (v1, 2..262144) to cpu.weight (v2, 1..10000), as runc converts. */
export function sharesToWeight(shares: number): number {
  return 1 + Math.floor(((shares - 2) * 9999) / 262142);
}

/** blkio.weight (v1, 10..1000) to io.weight (v2, 1..10000), as runc converts. */
export function blkioToIoWeight(weight: number): number {
  return 1 + Math.floor(((weight - 10) * 9999) / 990);
}

/** The kernel's name of a huge page size: "2MB", "1GB", "64KB". */
export function hugepageSize(pageSize: string): string {
  const m = /^(\d+)(KB|MB|GB|TB)$/i.exec(pageSize);
  if (!m) throw invalid(`hugepageLimits.pageSize "${pageSize}": expected a size like 2MB or 1GB`);
  return `${m[1]}${m[2]!.toUpperCase()}`;
}

/**
 * One device rule in the v1 devices.allow/deny syntax: "a" for every device with every
 * access (the kernel then resets the list: deny-all or allow-all), else lines like
 * "c 1:3 rwm". The kernel reads "a" as every device and every access whatever follows it,
 * so a type "a" rule that is narrower is written as a "c" and a "b" rule.
 */
export function deviceRuleLines(d: DeviceCgroup): string[] {
  const type = d.type ?? "a";
  const num = (v: number | null | undefined) => (v === undefined || v === null || v === -1 ? "*" : String(v));
  const major = num(d.major);
  const minor = num(d.minor);
  const access = d.access ?? "rwm";
  if (type === "a") {
    if (major === "*" && minor === "*" && access.length === 3) return ["a"];
    return [`c ${major}:${minor} ${access}`, `b ${major}:${minor} ${access}`];
  }
  return [`${type} ${major}:${minor} ${access}`];
}

const CPU_LIST = /^\s*(\d+(-\d+)?)(\s*,\s*\d+(-\d+)?)*\s*$|^\s*$/;

/**
 * Checks resources before anything is written, so a bad config changes nothing. The
 * kernel still has the last word on values that depend on the host.
 */
export function validateResources(r: Resources): void {
  if (r === null || typeof r !== "object") throw invalid("linux.resources must be an object");
  const intIn = (field: string, v: unknown, min: number, max = Number.MAX_VALUE) => {
    if (v === undefined) return;
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
      throw invalid(`linux.resources.${field}: ${JSON.stringify(v)} is not an integer in [${min}, ${max}]`);
    }
  };
  const m = r.memory;
  if (m) {
    for (const k of ["limit", "reservation", "swap", "kernel", "kernelTCP"] as const)
      intIn(`memory.${k}`, m[k], -1);
    if (m.swappiness !== undefined && m.swappiness !== -1) intIn("memory.swappiness", m.swappiness, 0, 100);
    const { limit, swap } = m;
    if (limit !== undefined && limit > 0 && swap !== undefined && swap > 0 && swap < limit) {
      throw invalid(
        `linux.resources.memory.swap (${swap}) is below memory.limit (${limit})`,
        "in OCI, swap is the limit of memory plus swap",
      );
    }
  }
  const c = r.cpu;
  if (c) {
    intIn("cpu.shares", c.shares, 0);
    intIn("cpu.quota", c.quota, -1);
    intIn("cpu.period", c.period, 0);
    intIn("cpu.burst", c.burst, 0);
    intIn("cpu.realtimeRuntime", c.realtimeRuntime, -1);
    intIn("cpu.realtimePeriod", c.realtimePeriod, 0);
    intIn("cpu.idle", c.idle, 0, 1);
    for (const k of ["cpus", "mems"] as const) {
      const v = c[k];
      if (v !== undefined && (typeof v !== "string" || !CPU_LIST.test(v))) {
        throw invalid(`linux.resources.cpu.${k}: ${JSON.stringify(v)} is not a list like "0-3,6"`);
      }
    }
  }
  if (r.pids) intIn("pids.limit", r.pids.limit, -1);
  const b = r.blockIO;
  if (b) {
    const weight = (f: string, v: number | undefined) => {
      if (v !== undefined && v !== 0) intIn(f, v, 10, 1000);
    };
    weight("blockIO.weight", b.weight);
    weight("blockIO.leafWeight", b.leafWeight);
    for (const [i, d] of (b.weightDevice ?? []).entries()) {
      intIn(`blockIO.weightDevice[${i}].major`, d.major, 0);
      intIn(`blockIO.weightDevice[${i}].minor`, d.minor, 0);
      weight(`blockIO.weightDevice[${i}].weight`, d.weight);
      weight(`blockIO.weightDevice[${i}].leafWeight`, d.leafWeight);
    }
    for (const k of THROTTLES) {
      for (const [i, d] of (b[k] ?? []).entries()) {
        intIn(`blockIO.${k}[${i}].major`, d.major, 0);
        intIn(`blockIO.${k}[${i}].minor`, d.minor, 0);
        intIn(`blockIO.${k}[${i}].rate`, d.rate, 0);
      }
    }
  }
  for (const [i, h] of (r.hugepageLimits ?? []).entries()) {
    hugepageSize(h.pageSize);
    intIn(`hugepageLimits[${i}].limit`, h.limit, -1);
  }
  if (r.network) {
    intIn("network.classID", r.network.classID, 0, 0xffffffff);
    for (const [i, p] of (r.network.priorities ?? []).entries()) {
      if (typeof p.name !== "string" || !/^[^\s/]+$/.test(p.name)) {
        throw invalid(`linux.resources.network.priorities[${i}].name: invalid interface name`);
      }
      intIn(`network.priorities[${i}].priority`, p.priority, 0, 0xffffffff);
    }
  }
  for (const key of Object.keys(r.unified ?? {})) {
    if (!/^[A-Za-z0-9_]+\.[A-Za-z0-9_.-]+$/.test(key) || key.includes("..")) {
      throw invalid(
        `linux.resources.unified: invalid key "${key}"`,
        'keys are cgroup file names like "memory.high"',
      );
    }
    if (typeof r.unified![key] !== "string")
      throw invalid(`linux.resources.unified["${key}"] must be a string`);
  }
  for (const [i, d] of (r.devices ?? []).entries()) {
    const f = `linux.resources.devices[${i}]`;
    if (typeof d.allow !== "boolean") throw invalid(`${f}.allow must be a boolean`);
    if (d.type !== undefined && !["a", "b", "c"].includes(d.type))
      throw invalid(`${f}.type "${d.type}" is not a, b or c`);
    for (const k of ["major", "minor"] as const) {
      const v = d[k];
      if (v !== undefined && v !== null) intIn(`devices[${i}].${k}`, v, -1);
    }
    if (
      d.access !== undefined &&
      (!/^[rwm]{1,3}$/.test(d.access) || new Set(d.access).size !== d.access.length)
    ) {
      throw invalid(`${f}.access "${d.access}" is not made of r, w, m`);
    }
  }
}

export const THROTTLES = [
  "throttleReadBpsDevice",
  "throttleWriteBpsDevice",
  "throttleReadIOPSDevice",
  "throttleWriteIOPSDevice",
] as const;
