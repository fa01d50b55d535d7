/**
 * A private containerd (Debian 12: containerd 1.6.20, containerd-shim-runc-v2, ctr) driving an
 * arbitrary OCI runtime through `ctr run --runc-binary <path>`, isolated in a `Sandbox`:
 *  - its own config.toml: root/state/grpc+ttrpc sockets in the temp dir, CRI and the
 *    btrfs/zfs/devmapper/aufs snapshotters and tracing disabled, the `opt` plugin moved off /opt;
 *  - TMPDIR in the temp dir (the shim writes exec process.json files and pty sockets there);
 *  - /run/containerd (shim sockets `s/<hash>`, runc --root `runc/<ns>`, ctr fifos) is the sandbox's
 *    tmpfs /run, and the sandbox's PID 1 (catatonit) reaps exited shims;
 *  - a unique namespace `pier-dropin-<hex>`; ctr's default cgroupsPath is `/<namespace>/<id>`, so all
 *    container cgroups live under that name and are removed at teardown;
 *  - the image comes from `ctr images import` of an OCI layout built from busybox (rootfs.ts).
 *
 * ─── How containerd-shim-runc-v2 (1.6.20) invokes the runtime (observed with runtime-log.ts) ───
 *
 * Every call has the same global flags, BEFORE the subcommand:
 *     <rt> --root /run/containerd/runc/<namespace> --log <bundle>/log.json --log-format json <sub> ...
 * (`--systemd-cgroup` is added only with the SystemdCgroup option.) cwd = the bundle dir
 * <state>/io.containerd.runtime.v2.task/<ns>/<id>; the env is the shim's, i.e. containerd's env plus
 * TTRPC_ADDRESS and the `opt` plugin's PATH/LD_LIBRARY_PATH prefixes. The shim is a Go program: fd 3
 * (its ttrpc listening socket) and sometimes fd 4 (a pipe) are NOT close-on-exec and leak into the
 * runtime; the runtime must not hand them to the container.
 *
 *  create   <rt> ... create --bundle <bundle> --pid-file <bundle>/init.pid [--console-socket
 *           $TMPDIR/ptyNNN/pty.sock] <id>           (no --tty flag: process.terminal is in config.json)
 *           fd0/1/2 = pipes connected to ctr's FIFOs (they become the container's stdio), or with a
 *           tty fd0 /dev/null and fd1=fd2 = one pipe the shim reads for error output.
 *           The shim is a child subreaper and reaps the init for its exit status: the runtime must
 *           write the init pid to --pid-file before `create` exits, must exit itself, and the init
 *           must stay a descendant of `create` (re-parented to the shim).
 *  start    <rt> ... start <id>                               (fd0 /dev/null, fd1=fd2 = one pipe)
 *  exec     <rt> ... exec --process $TMPDIR/runc-processNNN [--console-socket $TMPDIR/ptyNNN/pty.sock]
 *           --detach --pid-file <bundle>/<execid>.pid <id>
 *           (cwd = bundle, fd0/1/2 = pipes from the exec's FIFOs; again no --tty flag. Note the flag
 *           order differs from podman's: parse options in any order.)
 *  ps       <rt> ... ps --format json <id>   (ctr task ps) → stdout: JSON array of pids, e.g. [262,296]
 *  pause / resume <id>                       (ctr task pause / resume)
 *  kill     <rt> ... kill <id> 15            (ctr task kill; NUMERIC signal; `kill --all <id> 9` with -a)
 *  delete   <rt> ... delete <id>             (task delete, after the init exited)
 *           <rt> ... delete --force <id>     (always follows: `containerd-shim-runc-v2 ... delete`
 *           cleanup that containerd runs after the shim exits, also after a failed create. The
 *           container is usually gone by then; runc exits 0 for `delete --force` of an unknown id.)
 *  Not called in these flows: `state` (go-runc parses id, pid, status, bundle, rootfs, created,
 *  annotations), `update --resources -`, `checkpoint`/`restore`. `ctr task metrics` does NOT call
 *  the runtime (the shim reads cgroup files itself). `features` is not queried by 1.6.
 *
 * Errors: the shim reads the --log file, NOT stderr (during create the runtime's stdout/stderr are
 * the container's stdio pipes). It parses EVERY line as JSON ({"level","msg","time"}) and reports the
 * "msg" of the last line with level "error" (later info/warning lines are fine):
 *     {"level":"error","msg":"pier: something","time":"2026-01-01T00:00:00Z"}
 *     → ctr: failed to create shim task: OCI runtime create failed: pier: something: unknown
 * No log file → "unable to retrieve OCI runtime error (open …/log.json: no such file or directory):
 * <rt> did not terminate successfully: exit status 1"; a non-JSON line → "unable to retrieve OCI
 * runtime error (invalid character …)". (Verified with a fake runtime.)
 */
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { buildBusyboxRootfs, buildOciArchive } from "./rootfs.ts";
import { writeRuntimeLogger } from "./runtime-log.ts";
import { ok, Sandbox, within, type RunOptions, type RunResult } from "./sandbox.ts";

export const CONTAINERD_IMAGE = "docker.io/pier-dropin/busybox:latest";

export interface ContainerdOptions {
  runtime: string;
  snapshotter?: "overlayfs" | "native";
  logRuntime?: boolean;
  rootfs?: string;
}

const DISABLED_PLUGINS = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
];

export class ContainerdSession {
  readonly namespace: string;
  readonly socket: string;
  readonly runtimePath: string;
  readonly snapshotter: string;
  readonly logFile: string;
  private daemon: ChildProcess | undefined;
  private daemonExited: Promise<void> = Promise.resolve();
  private env: Record<string, string>;

  private constructor(
    readonly sandbox: Sandbox,
    runtimePath: string,
    snapshotter: string,
  ) {
    this.namespace = `pier-dropin-${randomBytes(4).toString("hex")}`;
    this.socket = join(sandbox.dir, "containerd.sock");
    this.runtimePath = runtimePath;
    this.snapshotter = snapshotter;
    this.logFile = join(sandbox.dir, "runtime.log");
    this.env = { TMPDIR: join(sandbox.dir, "tmp") };
    sandbox.trackCgroup(this.namespace);
  }

  static async start(opts: ContainerdOptions): Promise<ContainerdSession> {
    const sandbox = await Sandbox.create("containerd");
    let s: ContainerdSession | undefined;
    try {
      const runtimePath = opts.logRuntime
        ? await writeRuntimeLogger(opts.runtime, join(sandbox.dir, "rtlog"), join(sandbox.dir, "runtime.log"))
        : opts.runtime;
      s = new ContainerdSession(sandbox, runtimePath, opts.snapshotter ?? "overlayfs");
      await s.startDaemon();
      await s.importImage(opts.rootfs);
      return s;
    } catch (e) {
      if (s) await s.teardown();
      else await sandbox.destroy();
      throw e;
    }
  }

  /** Host pid of the containerd process (child of our nsenter). */
  get daemonPid(): number | undefined {
    return this.daemon?.pid === undefined ? undefined : this.sandbox.childPid(this.daemon.pid);
  }

  private async startDaemon(): Promise<void> {
    const d = this.sandbox.dir;
    for (const sub of ["root", "state", "tmp", "opt"]) await mkdir(join(d, sub), { recursive: true });
    const q = (v: string) => JSON.stringify(v);
    const config = join(d, "config.toml");
    await writeFile(
      config,
      `version = 2
root = ${q(join(d, "root"))}
state = ${q(join(d, "state"))}
disabled_plugins = [${DISABLED_PLUGINS.map(q).join(", ")}]

[grpc]
  address = ${q(this.socket)}
[ttrpc]
  address = ${q(this.socket + ".ttrpc")}
[debug]
  address = ""
  level = ${q(process.env.DROPIN_DEBUG ? "debug" : "info")}
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = ${q(join(d, "opt"))}
`,
    );
    const logFd = openSync(join(d, "containerd.log"), "a");
    try {
      this.daemon = this.sandbox.spawnDaemon("containerd", ["--config", config], logFd, this.env);
    } finally {
      closeSync(logFd);
    }
    const daemon = this.daemon;
    this.daemonExited = new Promise((r) => daemon.on("exit", () => r()));
    daemon.on("error", () => {});
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (daemon.exitCode !== null || daemon.signalCode !== null)
        throw new Error(`containerd exited early:\n${this.daemonLog()}`);
      if (existsSync(this.socket) && (await this.ctr(["version"], { timeoutMs: 5_000 })).code === 0) return;
      if (Date.now() > deadline) throw new Error(`containerd did not come up:\n${this.daemonLog()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  daemonLog(): string {
    const p = join(this.sandbox.dir, "containerd.log");
    return existsSync(p) ? readFileSync(p, "utf8") : "";
  }

  /** What the logging wrapper recorded (empty unless logRuntime). Read it before teardown. */
  runtimeLog(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, "utf8") : "";
  }

  private async importImage(rootfs?: string): Promise<void> {
    const d = this.sandbox.dir;
    if (!rootfs) {
      rootfs = join(d, "rootfs");
      await buildBusyboxRootfs(rootfs);
    }
    const archive = join(d, "busybox-oci.tar");
    await buildOciArchive(rootfs, join(d, "image-build"), archive, CONTAINERD_IMAGE);
    ok(await this.ctr(["images", "import", "--snapshotter", this.snapshotter, archive]));
  }

  /** `ctr --address <sock> -n <ns> args...` inside the sandbox. */
  ctr(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    return this.sandbox.run("ctr", ["--address", this.socket, "-n", this.namespace, ...args], {
      ...opts,
      env: { ...this.env, ...opts.env },
    });
  }

  /** `ctr run [--rm|-d] [-t] --runc-binary <rt> --snapshotter S [extra] IMAGE id cmd...` */
  run(
    id: string,
    cmd: readonly string[],
    o: { detach?: boolean; tty?: boolean; extra?: string[]; timeoutMs?: number } = {},
  ): Promise<RunResult> {
    const args = ["run", o.detach ? "-d" : "--rm"];
    if (o.tty) args.push("-t");
    args.push("--runc-binary", this.runtimePath, "--snapshotter", this.snapshotter, ...(o.extra ?? []));
    args.push(CONTAINERD_IMAGE, id, ...cmd);
    return this.ctr(args, { tty: o.tty ?? false, timeoutMs: o.timeoutMs ?? 30_000 });
  }

  exec(id: string, execId: string, cmd: readonly string[], o: { tty?: boolean } = {}): Promise<RunResult> {
    return this.ctr(["task", "exec", ...(o.tty ? ["-t"] : []), "--exec-id", execId, id, ...cmd], {
      tty: o.tty ?? false,
    });
  }

  /** `ctr task ls` as id → {pid, status}. */
  async tasks(): Promise<Map<string, { pid: number; status: string }>> {
    const out = new Map<string, { pid: number; status: string }>();
    const r = ok(await this.ctr(["task", "ls"]));
    for (const line of r.stdout.split("\n").slice(1)) {
      const [id, pid, status] = line.trim().split(/\s+/);
      if (id && pid && status) out.set(id, { pid: Number(pid), status });
    }
    return out;
  }

  /** Poll until the task is STOPPED (or gone). */
  async waitStopped(id: string, timeoutMs = 15_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const t = (await this.tasks()).get(id);
      if (!t || t.status === "STOPPED") return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return false;
  }

  /** Kill + delete every task, delete every container (graceful: exercises runtime kill/delete). */
  async removeAll(): Promise<string[]> {
    const problems: string[] = [];
    for (const [id, t] of await this.tasks()) {
      if (t.status !== "STOPPED") {
        await this.ctr(["task", "kill", "--all", "--signal", "SIGKILL", id]);
        if (!(await this.waitStopped(id))) problems.push(`task ${id} did not stop after SIGKILL`);
      }
      const del = await this.ctr(["task", "delete", "--force", id]);
      if (del.code !== 0) problems.push(`ctr task delete ${id}: ${del.stderr.trim()}`);
    }
    const cs = ok(await this.ctr(["containers", "ls", "-q"]))
      .stdout.split("\n")
      .filter(Boolean);
    if (cs.length) {
      const del = await this.ctr(["containers", "delete", ...cs]);
      if (del.code !== 0) problems.push(`ctr containers delete: ${del.stderr.trim()}`);
    }
    return problems;
  }

  /**
   * Remove tasks/containers, stop containerd (SIGTERM to the pid we started, SIGKILL after 10 s), end
   * the sandbox (kills any shim left), remove cgroups and the temp dir. Never throws.
   */
  async teardown(): Promise<string[]> {
    const problems: string[] = [];
    const daemon = this.daemon;
    if (daemon && daemon.exitCode === null && daemon.signalCode === null) {
      try {
        problems.push(...(await this.removeAll()));
        await this.ctr(["images", "rm", CONTAINERD_IMAGE]);
      } catch (e) {
        problems.push(`containerd cleanup: ${String(e)}`);
      }
      const pid = this.daemonPid;
      if (pid !== undefined) {
        try {
          process.kill(pid, "SIGTERM");
        } catch {
          /* gone */
        }
      }
      if (!(await within(this.daemonExited, 10_000))) {
        problems.push("containerd ignored SIGTERM; SIGKILL");
        if (pid !== undefined) process.kill(pid, "SIGKILL");
        await within(this.daemonExited, 5_000);
      }
    }
    problems.push(...(await this.sandbox.destroy()));
    return problems;
  }
}
