/**
 * A throw-away namespace sandbox for running container engines (podman, containerd) against an
 * arbitrary OCI runtime without touching the host.
 *
 * Layout: `unshare --mount --pid --fork --net --uts --ipc --mount-proc --propagation private
 * --kill-child -- catatonit -- sh -c SETUP`. Inside the new namespaces:
 *  - catatonit is PID 1 and reaps orphans. This matters on this machine: the real PID 1 is not an
 *    init and never reaps, so a daemonized conmon / containerd-shim would otherwise stay a zombie
 *    forever. It also means that when the sandbox ends, the kernel SIGKILLs everything left in the
 *    PID namespace (conmon, shims, containerd, containers): no stray process can survive a test.
 *  - the mount namespace is private: tmpfs on /run (runc/containerd/netavark state, shim sockets,
 *    /run/netns), and overlays with upper dirs in the sandbox temp dir on /etc, /var/lib, /var/tmp
 *    (podman's c/image writes /var/lib/containers/cache unconditionally). Every mount made by the
 *    engine or the runtime dies with the namespace.
 *  - a private network namespace with only `lo` (up): nothing can reach a real address.
 *  - private UTS (hostname "pier-dropin-sandbox") and IPC namespaces.
 *  - the cgroup namespace is NOT unshared: runtimes see and write the real cgroupfs (v1 hybrid here),
 *    so cgroups created under the parents registered with `trackCgroup` are removed at teardown.
 *
 * Commands run inside with `nsenter -t <catatonit> -m -p -n -u -i --wd=<dir>`. (setns(CLONE_NEWNS)
 * resets the cwd to "/", hence the explicit --wd.) The sandbox's /proc belongs to its PID namespace, so
 * pids written to pid files by runtimes are consistent with what the engines read from /proc.
 */
import { spawn, type ChildProcess } from "node:child_process";
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmdirSync,
  writeFileSync,
} from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";

export interface RunResult {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** The argv that was run (inside the sandbox), for error messages. */
  argv: string[];
}

export interface RunOptions {
  env?: Record<string, string>;
  /** Working directory (must be an absolute path visible in the sandbox). Default: the sandbox dir. */
  cwd?: string;
  input?: string;
  /** Kill the whole process group after this long. Default 30 s (tests time out at 60 s). */
  timeoutMs?: number;
  /** Run under `script(1)` so the command gets a pseudo-terminal as stdin/stdout/stderr. */
  tty?: boolean;
}

export const SANDBOX_HOSTNAME = "pier-dropin-sandbox";
const BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const OVERLAID = ["/etc", "/var/lib", "/var/tmp"];

export function shellQuote(args: readonly string[]): string {
  return args.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(" ");
}

export function formatResult(r: RunResult): string {
  return `${shellQuote(r.argv)} -> code=${r.code} signal=${r.signal}${r.timedOut ? " (timed out)" : ""}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

/** Throw with full output unless the command exited 0. */
export function ok(r: RunResult): RunResult {
  if (r.code !== 0) throw new Error(`command failed: ${formatResult(r)}`);
  return r;
}

/**
 * Spawn on the host, collect output, kill the process group on timeout. Resolves at most 2 s after
 * the process exits even if something it started (a container, a daemon) still holds its stdout.
 */
export function runHost(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const argv = [cmd, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd ?? "/",
      env: { PATH: BASE_PATH, HOME: "/root", LANG: "C.UTF-8", ...opts.env },
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      detached: true, // own process group, so a timeout can kill everything it started
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    let done = false;
    let grace: NodeJS.Timeout | undefined;
    child.stdout?.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.stdin?.on("error", () => {}); // EPIPE if the command does not read its input
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child, "SIGKILL");
    }, opts.timeoutMs ?? 30_000);
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(grace);
      child.stdout?.destroy();
      child.stderr?.destroy();
      resolve({ code, signal, stdout, stderr, timedOut, argv });
    };
    child.on("error", (e) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      reject(e);
    });
    child.on("exit", (code, signal) => {
      grace = setTimeout(() => finish(code, signal), 2_000);
    });
    child.on("close", (code, signal) => finish(code, signal));
  });
}

function killGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, sig);
  } catch {
    try {
      child.kill(sig);
    } catch {
      /* already gone */
    }
  }
}

export interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
  cmdline: string;
}

function readProc(pid: number): ProcInfo | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    const fields = stat.slice(close + 2).split(" ");
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0+$/, "").replace(/\0/g, " ");
    return { pid, ppid: Number(fields[1]), comm, cmdline };
  } catch {
    return undefined;
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolve true when `p` settles within `ms`, false otherwise (the timer never outlives the call). */
export async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([p.then(() => true), t]);
  } finally {
    clearTimeout(timer);
  }
}

/** All cgroup hierarchies mounted under /sys/fs/cgroup (v1 controllers, name=systemd, unified). */
export function cgroupHierarchies(): string[] {
  const out: string[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const parts = line.split(" ");
    const sep = parts.indexOf("-");
    const fstype = parts[sep + 1];
    if ((fstype === "cgroup" || fstype === "cgroup2") && parts[4]) out.push(parts[4]);
  }
  return out;
}

/** Every directory at or below `/<name>` in every hierarchy (host paths). */
export function cgroupDirs(name: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    out.push(dir);
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name));
  };
  for (const h of cgroupHierarchies()) {
    const top = join(h, name);
    if (existsSync(top)) walk(top);
  }
  return out;
}

/** Pids (host view) currently in any cgroup at or below `/<name>`. */
export function cgroupTasks(name: string): number[] {
  const pids = new Set<number>();
  for (const d of cgroupDirs(name)) {
    try {
      for (const p of readFileSync(join(d, "cgroup.procs"), "utf8").split("\n")) if (p) pids.add(Number(p));
    } catch {
      /* racing with removal */
    }
  }
  return [...pids];
}

/** rmdir `/<name>` and everything below it in every hierarchy, deepest first; retries while busy. */
export async function removeCgroupTree(name: string, timeoutMs = 10_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dirs = cgroupDirs(name).sort((a, b) => b.split("/").length - a.split("/").length);
    const failed: string[] = [];
    for (const d of dirs) {
      try {
        rmdirSync(d);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") failed.push(d);
      }
    }
    if (failed.length === 0) return [];
    if (Date.now() > deadline) return failed;
    await sleep(100);
  }
}

/** Mount points (from a mountinfo file) at or below `prefix`. */
export function mountsUnder(prefix: string, mountinfo = "/proc/self/mountinfo"): string[] {
  return readFileSync(mountinfo, "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((m): m is string => m !== undefined && (m === prefix || m.startsWith(prefix + "/")));
}

const SANDBOX_GLOB_PREFIX = "pier-dropin-";

interface Owner {
  pid: number;
  start: string;
  cgroups: string[];
}

/** Field 22 of /proc/<pid>/stat (start time), or undefined if the process is gone or a zombie. */
function procStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[0] === "Z" ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

/**
 * Remove what earlier runs left behind if their node process died before teardown (a killed test
 * runner): the sandbox itself dies with its owner (stdin EOF), but its temp dir and cgroups remain.
 * Only dirs whose recorded owner process no longer exists are touched.
 */
export async function sweepStale(): Promise<string[]> {
  const swept: string[] = [];
  for (const e of readdirSync("/tmp")) {
    if (!e.startsWith(SANDBOX_GLOB_PREFIX)) continue;
    const dir = join("/tmp", e);
    let owner: Owner;
    try {
      owner = JSON.parse(readFileSync(join(dir, "owner.json"), "utf8")) as Owner;
    } catch {
      continue; // not ours, or being created right now
    }
    if (procStart(owner.pid) === owner.start) continue; // still running
    for (const c of owner.cgroups) await removeCgroupTree(c, 2_000);
    for (const m of mountsUnder(dir).reverse()) await runHost("umount", ["-l", m]);
    await rm(dir, { recursive: true, force: true });
    swept.push(dir);
  }
  return swept;
}

export class Sandbox {
  private cgroupParents = new Set<string>();
  private constructor(
    /** Host temp dir owned by this sandbox (removed by destroy). */
    readonly dir: string,
    private readonly proc: ChildProcess,
    /** Host pid of catatonit, PID 1 of the sandbox. */
    readonly initPid: number,
    private readonly exited: Promise<void>,
  ) {}

  static async create(prefix: string): Promise<Sandbox> {
    const dir = mkdtempSync(`/tmp/${SANDBOX_GLOB_PREFIX}${prefix}-`);
    // Claim it at once, so sweepStale can remove it whatever happens to this process later.
    const claim: Owner = { pid: process.pid, start: procStart(process.pid) ?? "", cgroups: [] };
    writeFileSync(join(dir, "owner.json"), JSON.stringify(claim));
    const setup: string[] = [
      "set -e",
      // mount propagation is already private (unshare --propagation private)
      "mount -n -t tmpfs -o mode=755,size=256m pier-dropin-run /run", // -n: no /run/mount/utab on the host
      "ln -s /dev/shm /run/shm",
      "mkdir -m 1777 /run/lock",
    ];
    for (const d of OVERLAID) {
      if (!existsSync(d) || mountsUnder(d).some((m) => m !== d)) continue; // would hide submounts
      const up = join(dir, "host-overlay", d.replace(/\//g, "_"));
      setup.push(
        `mkdir -p ${up}/upper ${up}/work`,
        `mount -n -t overlay pier-dropin-overlay -o lowerdir=${d},upperdir=${up}/upper,workdir=${up}/work ${d}`,
      );
    }
    setup.push("ip link set lo up", `hostname ${SANDBOX_HOSTNAME}`, "echo ready", "read _ || true");
    const proc = spawn(
      "unshare",
      [
        "--mount",
        "--pid",
        "--fork",
        "--net",
        "--uts",
        "--ipc",
        "--mount-proc",
        "--propagation",
        "private",
        "--kill-child",
        "--",
        "catatonit",
        "--",
        "/bin/sh",
        "-c",
        setup.join("\n"),
      ],
      { cwd: "/", env: { PATH: BASE_PATH, HOME: "/root" }, stdio: ["pipe", "pipe", "pipe"] },
    );
    const exited = new Promise<void>((r) => proc.on("exit", () => r()));
    let out = "";
    let err = "";
    proc.stderr?.setEncoding("utf8").on("data", (d: string) => (err += d));
    const ready = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 10_000);
      proc.stdout?.setEncoding("utf8").on("data", (d: string) => {
        out += d;
        if (out.includes("ready")) {
          clearTimeout(timer);
          resolve(true);
        }
      });
      proc.on("exit", () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    const initPid = proc.pid === undefined ? undefined : childrenOf(proc.pid)[0];
    if (!ready || initPid === undefined) {
      proc.stdin?.end();
      proc.kill("SIGKILL");
      await exited;
      await rm(dir, { recursive: true, force: true });
      throw new Error(`sandbox setup failed: ${out}\n${err}`);
    }
    const sb = new Sandbox(dir, proc, initPid, exited);
    sb.writeOwner();
    return sb;
  }

  /** Remove `/<name>` in every cgroup hierarchy at destroy() (or by sweepStale after a crash). */
  trackCgroup(name: string): void {
    this.cgroupParents.add(name.replace(/^\/+/, ""));
    this.writeOwner();
  }

  private writeOwner(): void {
    const owner: Owner = {
      pid: process.pid,
      start: procStart(process.pid) ?? "",
      cgroups: [...this.cgroupParents],
    };
    writeFileSync(join(this.dir, "owner.json"), JSON.stringify(owner));
  }

  nsenter(cwd: string): string[] {
    return ["nsenter", "-t", String(this.initPid), "-m", "-p", "-n", "-u", "-i", `--wd=${cwd}`, "--"];
  }

  /** Run a command inside the sandbox and collect its output. */
  run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    const inner = [...this.nsenter(opts.cwd ?? this.dir), cmd, ...args];
    const env = { SHELL: "/bin/sh", TERM: "xterm", ...opts.env };
    if (opts.tty) {
      // script(1) allocates a pty on the host devpts (the sandbox shares /dev); -e: return the
      // child's exit code; -f: flush; -q: no banner. Output gets \r\n line endings.
      return runHost("script", ["-qefc", shellQuote(inner), "/dev/null"], { ...opts, env }).then((r) => ({
        ...r,
        argv: inner,
      }));
    }
    const [c, ...a] = inner;
    return runHost(c!, a, { ...opts, env }).then((r) => ({ ...r, argv: inner }));
  }

  /**
   * Start a long-running process inside the sandbox (stdout/stderr to `logFile`). Returns the
   * nsenter ChildProcess; the process itself is nsenter's only child (see `childPid`).
   */
  spawnDaemon(
    cmd: string,
    args: readonly string[],
    logFd: number,
    env: Record<string, string>,
  ): ChildProcess {
    const [nsenter, ...nsArgs] = this.nsenter(this.dir);
    return spawn(nsenter!, [...nsArgs, cmd, ...args], {
      cwd: "/",
      env: { PATH: BASE_PATH, HOME: "/root", LANG: "C.UTF-8", ...env },
      stdio: ["ignore", logFd, logFd],
    });
  }

  childPid(parent: number): number | undefined {
    return childrenOf(parent)[0];
  }

  /** Mount table of the sandbox's mount namespace, as "mountpoint fstype source" lines. */
  mounts(): string[] {
    return readFileSync(`/proc/${this.initPid}/mountinfo`, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => {
        const p = l.split(" ");
        const sep = p.indexOf("-");
        return `${p[4]} ${p[sep + 1]} ${p[sep + 2]}`;
      });
  }

  /** "type:[inode]" of the sandbox's own namespaces, e.g. ns("uts"). */
  ns(kind: "pid" | "mnt" | "net" | "uts" | "ipc" | "cgroup" | "user"): string {
    return readlinkSync(`/proc/${this.initPid}/ns/${kind}`);
  }

  /**
   * Every process in the sandbox's PID namespace (its PID 1 excluded) and their descendants, which
   * covers processes in nested (container) PID namespaces. Processes entered with nsenter have a
   * parent outside the sandbox, hence the scan of /proc rather than a walk from PID 1.
   */
  processes(): ProcInfo[] {
    const pidns = this.ns("pid");
    const found = new Set<number>();
    for (const e of readdirSync("/proc")) {
      const pid = Number(e);
      if (!Number.isInteger(pid) || pid === this.initPid) continue;
      try {
        if (readlinkSync(`/proc/${pid}/ns/pid`) === pidns) found.add(pid);
      } catch {
        /* exited */
      }
    }
    const queue = [...found];
    while (queue.length) {
      for (const c of childrenOf(queue.shift()!)) {
        if (!found.has(c)) {
          found.add(c);
          queue.push(c);
        }
      }
    }
    return [...found].sort((a, b) => a - b).flatMap((p) => readProc(p) ?? []);
  }

  /** Files the engines/runtimes wrote to the overlaid host dirs (/etc, /var/lib, /var/tmp). */
  hostWrites(): string[] {
    const out: string[] = [];
    const base = join(this.dir, "host-overlay");
    if (!existsSync(base)) return out;
    const walk = (dir: string, shown: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        out.push(join(shown, e.name));
        if (e.isDirectory()) walk(p, join(shown, e.name)); // Dirent: symlinks are not directories
      }
    };
    for (const d of readdirSync(base)) {
      const upper = join(base, d, "upper");
      if (existsSync(upper)) walk(upper, d.replace(/_/g, "/"));
    }
    return out;
  }

  /**
   * End the sandbox: EOF on the setup shell's stdin makes it exit, catatonit (PID 1) follows and the
   * kernel kills every process left in the PID namespace; the mount namespace and all its mounts go
   * with it. Then remove the tracked cgroups and the temp dir. Returns problems found (empty = clean).
   */
  async destroy(): Promise<string[]> {
    const problems: string[] = [];
    this.proc.stdin?.end();
    if (!(await within(this.exited, 10_000))) {
      problems.push("sandbox did not exit after stdin EOF; killed unshare (catatonit gets SIGKILL)");
      this.proc.kill("SIGKILL"); // --kill-child: unshare's death SIGKILLs catatonit
      await this.exited;
    }
    // PID 1 gone => the namespace is being torn down; wait until nothing is left in it.
    for (let i = 0; i < 100 && existsSync(`/proc/${this.initPid}`); i++) await sleep(50);
    if (existsSync(`/proc/${this.initPid}`) && readProc(this.initPid)?.comm === "catatonit")
      problems.push(`sandbox init ${this.initPid} still exists`);
    for (const name of this.cgroupParents) {
      const left = await removeCgroupTree(name);
      if (left.length) problems.push(`could not remove cgroups: ${left.join(", ")}`);
    }
    // The sandbox mounts were private; nothing under our dir should be mounted on the host.
    for (const m of mountsUnder(this.dir).reverse()) {
      problems.push(`host mount left under sandbox dir: ${m}`);
      await runHost("umount", ["-l", m]);
    }
    await rm(this.dir, { recursive: true, force: true, maxRetries: 3 });
    if (existsSync(this.dir)) problems.push(`could not remove ${this.dir}`);
    return problems;
  }
}
