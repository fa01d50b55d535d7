/**
 * The per-container monitor (native/monitor.c) seen from Node: start one for a container,
 * read the json-file log it writes and the exit status it records. The monitor outlives
 * every Node process; everything here works again from the files alone.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";

/** The directory of pier's binaries: next to a bundle (bin/*.js), or <repo>/bin from source. */
export const BIN_DIR = existsSync(join(import.meta.dirname, "pier-monitor"))
  ? import.meta.dirname
  : resolve(import.meta.dirname, "../../../bin");
export const REPO_ROOT = resolve(BIN_DIR, "..");
export const MONITOR_SOURCE = join(REPO_ROOT, "native/monitor.c");
export const DEFAULT_MONITOR = join(BIN_DIR, "pier-monitor");

export interface MonitorOptions {
  /** The OCI runtime's executable (pier-runtime or runc). */
  runtime: string;
  /** The runtime's state root (--root). */
  root: string;
  bundle: string;
  id: string;
  /** docker's json-file log. */
  logPath: string;
  /** Written by the monitor when the container exits (or failed to start). */
  exitPath: string;
  /** The container's pid; appears once the container has started. */
  pidFile: string;
  /** The monitor's own pid. */
  monitorPidFile: string;
  /** The monitor binary; default bin/pier-monitor. */
  monitorBin?: string;
  /** A fifo whose bytes reach the container's stdin (default: stdin is /dev/null). */
  stdinFifo?: string;
  /** A fifo for commands: "c\n" closes stdin, "r ROWS COLS\n" resizes the terminal. */
  ctlFifo?: string;
  /** Give the process a terminal: the monitor takes its master on this socket path. */
  consoleSocket?: string;
  /** Run a process in the running container (runtime exec --detach) instead of create+start. */
  exec?: { processFile: string };
  /**
   * Only create: the caller starts the container itself (the runtime library's start, in
   * process), once startMonitor has returned. Saves the start command's process.
   */
  createOnly?: boolean;
  /**
   * Create by running `pier-nsexec 3` directly, fd 3 connected to `syncSocket`, where the
   * caller runs the runtime library's create (no runtime process at all). Implies createOnly.
   */
  nsexec?: { path: string; syncSocket: string };
  /** Extra global options for the runtime (e.g. --log FILE). */
  runtimeArgs?: string[];
  /** How long to wait for the container to start; default 30 s. */
  timeoutMs?: number;
}

export interface MonitorStarted {
  containerPid: number;
  monitorPid: number;
}

export interface ExitStatus {
  exitCode: number;
  signal: number;
  oomKilled: boolean;
  finishedAt: string;
  /** Set when the container never ran ("create failed", "start failed"). */
  error?: string;
}

export interface LogEntry {
  stream: "stdout" | "stderr";
  /** The text, with its trailing newline when it had one. */
  log: string;
  /** RFC 3339 with nanoseconds, as written. */
  time: string;
}

/** Compiles native/monitor.c into `dir`/pier-monitor (for tests and fresh trees). */
export function buildMonitor(dir: string, cc = process.env["CC"] ?? "gcc"): string {
  const out = join(dir, "pier-monitor");
  execFileSync(cc, ["-O2", "-Wall", "-Wextra", "-Werror", "-o", out, MONITOR_SOURCE], { stdio: "pipe" });
  return out;
}

/** bin/pier-monitor when built, otherwise a fresh build in `buildDir`. */
export function monitorBinary(buildDir: string): string {
  return existsSync(DEFAULT_MONITOR) ? DEFAULT_MONITOR : buildMonitor(buildDir);
}

/** The monitor's argv for these options (exported for inspection and tests). */
export function monitorArgs(o: MonitorOptions): string[] {
  // The monitor runs in "/": every path it gets is absolute.
  const rt = [o.runtime, ...(o.runtimeArgs ?? []), "--root", resolve(o.root)];
  const pidFile = resolve(o.pidFile);
  const createPid = `${pidFile}.create`;
  const args = ["-p", resolve(o.monitorPidFile), "-C", createPid, "-c", pidFile];
  args.push("-l", resolve(o.logPath), "-e", resolve(o.exitPath));
  if (o.stdinFifo) args.push("-i", resolve(o.stdinFifo));
  if (o.ctlFifo) args.push("-k", resolve(o.ctlFifo));
  const tty = o.consoleSocket ? ["--console-socket", resolve(o.consoleSocket)] : [];
  if (o.consoleSocket) args.push("-t", resolve(o.consoleSocket));
  if (o.nsexec) {
    args.push("-S", resolve(o.nsexec.syncSocket));
    args.push("--", o.nsexec.path, "3", "--");
    return args;
  }
  if (o.exec) {
    const p = ["exec", "--detach", "--pid-file", createPid, "--process", resolve(o.exec.processFile)];
    args.push("--", ...rt, ...p, ...tty, o.id, "--");
    return args;
  }
  args.push("--", ...rt, "create", "--bundle", resolve(o.bundle), "--pid-file", createPid, ...tty, o.id);
  args.push("--");
  if (!o.createOnly) args.push(...rt, "start", o.id);
  return args;
}

function readPid(path: string): number | undefined {
  try {
    const n = Number.parseInt(readFileSync(path, "utf8").trim(), 10);
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Starts a monitor for a container (create, then start, through the runtime) and resolves
 * once the container runs. Rejects with the container's stderr when it failed to start.
 */
export async function startMonitor(o: MonitorOptions): Promise<MonitorStarted> {
  await spawnMonitor(o);
  return waitStarted(o);
}

/**
 * Starts the monitor and resolves once it runs (its pid file is written before the caller's
 * child exits); the container is not started yet. `waitStarted` waits for that.
 */
export async function spawnMonitor(o: MonitorOptions): Promise<number> {
  for (const f of [o.pidFile, `${o.pidFile}.create`, o.exitPath]) rmSync(f, { force: true });
  const bin = o.monitorBin ?? DEFAULT_MONITOR;
  const child = spawn(bin, monitorArgs(o), { stdio: ["ignore", "ignore", "pipe"], cwd: "/" });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const code = await new Promise<number | null>((res, rej) => {
    child.on("error", rej);
    child.on("close", (c) => res(c));
  });
  if (code !== 0) throw new Error(`pier-monitor failed (${code}): ${stderr.trim()}`);
  const pid = readPid(o.monitorPidFile);
  if (pid === undefined) throw new Error(`pier-monitor wrote no pid to ${o.monitorPidFile}`);
  return pid;
}

/** Resolves once the monitor published the container's pid; rejects with why it failed. */
export async function waitStarted(o: MonitorOptions): Promise<MonitorStarted> {
  const deadline = Date.now() + (o.timeoutMs ?? 30_000);
  for (let delay = 1; ; delay = Math.min(delay * 2, 20)) {
    const pid = readPid(o.pidFile);
    const monitorPid = readPid(o.monitorPidFile);
    if (pid !== undefined && monitorPid !== undefined) {
      rmSync(`${o.pidFile}.create`, { force: true });
      return { containerPid: pid, monitorPid };
    }
    const exit = readExit(o.exitPath);
    if (exit?.error) {
      const err = readLogs(o.logPath)
        .filter((e) => e.stream === "stderr")
        .map((e) => e.log)
        .join("")
        .trim();
      throw new Error(`container ${o.id}: ${exit.error}${err ? `: ${err}` : ""}`);
    }
    if (exit) throw new Error(`container ${o.id} exited before it was reported started`);
    if (Date.now() > deadline) throw new Error(`container ${o.id}: monitor timed out waiting for start`);
    await sleep(delay);
  }
}

/** The recorded exit status, or undefined while the container runs (or never had a monitor). */
export function readExit(exitPath: string): ExitStatus | undefined {
  let text: string;
  try {
    text = readFileSync(exitPath, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  const v = JSON.parse(text) as Partial<ExitStatus>;
  if (typeof v.exitCode !== "number") throw new Error(`${exitPath}: no exitCode`);
  return {
    exitCode: v.exitCode,
    signal: v.signal ?? 0,
    oomKilled: v.oomKilled ?? false,
    finishedAt: v.finishedAt ?? "",
    ...(v.error !== undefined ? { error: v.error } : {}),
  };
}

export interface ReadLogsOptions {
  /** Only the last N lines. */
  tail?: number;
  /** Only lines written at or after this time (a Date or Unix seconds). */
  since?: Date | number;
  /** Prefix each line's text with its time, as `docker logs -t` does. */
  timestamps?: boolean;
}

/** Nanoseconds since the epoch of an RFC 3339 time with up to nine fraction digits. */
export function timeNanos(t: string): bigint {
  const m = /^(.*?)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(t);
  if (!m) return BigInt(Date.parse(t)) * 1_000_000n;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  const frac = (m[2] ?? "").padEnd(9, "0").slice(0, 9);
  return BigInt(ms) * 1_000_000n + BigInt(frac);
}

/**
 * Reads a json-file log. Records split at 16 KiB (no trailing newline) are joined back into
 * their line; a half-written last record is left for the next read.
 */
export function readLogs(logPath: string, opts: ReadLogsOptions = {}): LogEntry[] {
  let text: string;
  try {
    text = readFileSync(logPath, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw e;
  }
  const end = text.lastIndexOf("\n");
  const lines = end < 0 ? [] : text.slice(0, end).split("\n");
  const out: LogEntry[] = [];
  const open: Partial<Record<LogEntry["stream"], LogEntry>> = {};
  for (const line of lines) {
    if (!line) continue;
    let rec: LogEntry;
    try {
      rec = JSON.parse(line) as LogEntry;
    } catch {
      continue; // a torn record (disk full) must not hide the rest
    }
    const pending = open[rec.stream];
    if (pending) pending.log += rec.log;
    else out.push((open[rec.stream] = { ...rec }));
    if (rec.log.endsWith("\n")) delete open[rec.stream];
  }
  let res = out;
  if (opts.since !== undefined) {
    const ms = typeof opts.since === "number" ? opts.since * 1000 : opts.since.getTime();
    const since = BigInt(Math.floor(ms)) * 1_000_000n;
    res = res.filter((e) => timeNanos(e.time) >= since);
  }
  if (opts.tail !== undefined && opts.tail >= 0) res = opts.tail === 0 ? [] : res.slice(-opts.tail);
  if (opts.timestamps) res = res.map((e) => ({ ...e, log: `${e.time} ${e.log}` }));
  return res;
}
