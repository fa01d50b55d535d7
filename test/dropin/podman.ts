/**
 * Podman (Debian 12: podman 4.3.1, conmon 2.1.6, netavark 1.4) driving an arbitrary OCI runtime,
 * fully isolated in a `Sandbox` with a private store. Nothing under the host's /var/lib/containers,
 * /run/containers, /etc/containers, /dev/shm or /run/runc is used:
 *  - CONTAINERS_CONF (when set, podman reads only this file), CONTAINERS_STORAGE_CONF and
 *    CONTAINERS_REGISTRIES_CONF point into the temp dir; HOME is a temp dir too (no ~/.config);
 *  - lock_type "file" (locks in tmp_dir/locks) instead of the shared /dev/shm/libpod_lock;
 *  - cgroup_manager cgroupfs, events to a file, no systemd anywhere, `--cgroup-parent` unique per
 *    session (conmon goes to <parent>/conmon, containers to <parent>/libpod-<id>);
 *  - netavark's run dir is hard-coded to /run/containers/networks and c/image's blob-info cache to
 *    /var/lib/containers/cache: both land in the sandbox's tmpfs /run and /var/lib overlay;
 *  - `--pull never` on every run/create: no registry access, ever.
 *
 * ─── How podman 4.3.1 + conmon 2.1.6 invoke the OCI runtime (observed with runtime-log.ts) ───
 *
 * Global flags: NONE for a runtime whose basename is not in containers.conf `runtime_supports_json`
 * (built-in list: crun, runc, kata, runsc, krun, ocijail) — so `pier-runtime` gets no `--root` (it
 * must use its own default state dir; here that is inside the sandbox's tmpfs /run), no `--log`, no
 * `--log-format`, and no `--systemd-cgroup` (cgroupfs manager). Only for a name in that list do the
 * conmon-run subcommands (create, exec) get `--log-format=json --log <dir>/oci-log` in front.
 * cwd: podman's own cwd for create/start/kill/delete/pause/resume, the exec session dir for exec.
 * env: podman-run subcommands get only PATH (start/kill) or nothing but XDG_RUNTIME_DIR=""; conmon-run
 * ones get conmon's env: PATH, HOME, TMPDIR (conmon_env_vars), CONTAINERS_CONF, XDG_RUNTIME_DIR="",
 * _CONTAINERS_USERNS_CONFIGURED="", _CONTAINERS_ROOTLESS_UID="", _OCI_SYNCPIPE=3, _OCI_STARTPIPE=4
 * (+ _OCI_ATTACHPIPE=5 for exec). Those _OCI_* fds are conmon's and are leaked into the runtime
 * (fd 3 is open in every call): ignore them, never hand fds >= 3 to the container.
 *
 *  create  (by conmon; fd0 /dev/null, or a pipe with -i; fd1/fd2 conmon pipes, which become the
 *          container's stdio when there is no terminal; fd3 conmon's sync pipe)
 *     <rt> create --bundle <graphroot>/overlay-containers/<id>/userdata
 *                 --pid-file <runroot>/overlay-containers/<id>/userdata/pidfile
 *                 [--console-socket $TMPDIR/conmon-term.XXXXXX]      (only with -t; no --tty flag)
 *                 <id>
 *          The runtime must fork the container init, write its pid (as seen in the caller's pid
 *          namespace) to --pid-file, leave it waiting for `start`, and EXIT 0. conmon is a
 *          PR_SET_CHILD_SUBREAPER and waitpid()s the init for the exit code, so the init must be a
 *          descendant of the `create` process (no hand-off to a runtime daemon), and must not be
 *          reaped by the runtime. --console-socket: make a pty, use the slave as the container's
 *          stdio + controlling tty, send the master fd over the unix socket with SCM_RIGHTS.
 *          On failure conmon relays the runtime's stderr (or the --log JSON "msg") to podman:
 *            "Error: OCI runtime error: <rt path>: <stderr>"  → `podman run` exits 126;
 *          text matching /executable file not found in|no such file or directory/i → exit 127
 *          ("OCI runtime attempted to invoke a command that was not found"), and
 *          /permission denied|operation not permitted/i → 126 (tested: /nonexistent must give 127).
 *  start   (by podman; fd0 /dev/null or socket, fd1/fd2 podman's stdout/stderr)
 *     <rt> start <id>
 *  exec    (by conmon; fd0 /dev/null or pipe, fd1/fd2 pipes, or fd1 /dev/null fd2 pipe with -t)
 *     <rt> exec --pid-file <userdata>/<sess>/exec_pid --process <userdata>/<sess>/exec-process-NNN
 *               --detach [--tty --console-socket $TMPDIR/conmon-term.XXXXXX] <id>
 *          Same contract as create: run the process, write its pid, exit; conmon reaps it.
 *  kill    (by podman; the signal is a NUMBER)  stop: `kill <id> 15`, after -t seconds `kill <id> 9`;
 *          podman kill -s USR1: `kill <id> 10`
 *  pause / resume <id>    (podman pause / unpause)
 *  delete  `delete --force <id>` — by `podman container cleanup` (conmon's exit command, after the
 *          init exited), by `podman rm`, or right after a failed create.
 *  `state` was never called in these flows, not even by `podman ps --sync` or inspect: podman learns
 *  about exits from conmon's exit files. (If called, podman wants OCI state JSON whose "status" is
 *  created|running|paused|stopped.) `features` is not queried by podman 4.3.
 *
 * The exit command conmon runs when the container exits (it inherits CONTAINERS_CONF via conmon):
 *   /usr/bin/podman --root R --runroot RR --log-level warning --cgroup-manager cgroupfs --tmpdir T
 *     --network-config-dir N --network-backend netavark --volumepath V --runtime <rt path>
 *     --storage-driver overlay --events-backend file container cleanup [--rm] <id>
 *
 * Default network: with `--network podman` netavark creates bridge podman0 (10.88.0.1/16), a veth and
 * iptables NAT rules — all inside the sandbox's private netns, removed when the container goes.
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { buildBusyboxRootfs, tarRootfs } from "./rootfs.ts";
import { writeRuntimeLogger } from "./runtime-log.ts";
import { ok, Sandbox, type RunOptions, type RunResult } from "./sandbox.ts";

export const PODMAN_IMAGE = "localhost/pier-dropin/busybox:latest";

/** rlimits podman would otherwise set to values this machine refuses (no CAP_SYS_RESOURCE). */
export const PODMAN_ULIMITS = ["--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"];

export interface PodmanOptions {
  /** Path of the OCI runtime to test. */
  runtime: string;
  /** "overlay" (default, like a real install) or "vfs" (no mounts for layers). */
  storageDriver?: "overlay" | "vfs";
  /** Wrap the runtime in a logger (runtime-log.ts); see `runtimeLog()`. */
  logRuntime?: boolean;
  /** Prebuilt busybox rootfs to import; built inside the session dir otherwise. */
  rootfs?: string;
}

export class PodmanSession {
  /** Runtime path given to podman (the logger wrapper when logRuntime). */
  readonly runtimePath: string;
  readonly cgroupParent: string;
  readonly logFile: string;

  private constructor(
    readonly sandbox: Sandbox,
    private readonly env: Record<string, string>,
    private readonly globalArgs: string[],
    runtimePath: string,
    cgroupParent: string,
    logFile: string,
  ) {
    this.runtimePath = runtimePath;
    this.cgroupParent = cgroupParent;
    this.logFile = logFile;
  }

  /** Create the sandbox, write the config, import the busybox image. Tears down on failure. */
  static async start(opts: PodmanOptions): Promise<PodmanSession> {
    const sandbox = await Sandbox.create("podman");
    try {
      return await PodmanSession.init(sandbox, opts);
    } catch (e) {
      await sandbox.destroy();
      throw e;
    }
  }

  private static async init(sandbox: Sandbox, opts: PodmanOptions): Promise<PodmanSession> {
    const d = sandbox.dir;
    const dirs = {
      root: join(d, "storage"),
      runroot: join(d, "runroot"),
      tmp: join(d, "libpod-tmp"),
      net: join(d, "networks"),
      events: join(d, "events"),
      imgtmp: join(d, "image-tmp"),
      conmonTmp: join(d, "conmon-tmp"),
      home: join(d, "home"),
    };
    for (const p of Object.values(dirs)) await mkdir(p, { recursive: true });
    const cgroupParent = `pier-dropin-${randomBytes(4).toString("hex")}`;
    sandbox.trackCgroup(cgroupParent);
    const logFile = join(d, "runtime.log");
    const runtimePath = opts.logRuntime
      ? await writeRuntimeLogger(opts.runtime, join(d, "rtlog"), logFile)
      : opts.runtime;
    const driver = opts.storageDriver ?? "overlay";
    const q = (s: string) => JSON.stringify(s);
    await writeFile(
      join(d, "containers.conf"),
      `[containers]
cgroups = "enabled"
log_driver = "k8s-file"
netns = "none"

[network]
network_backend = "netavark"
network_config_dir = ${q(dirs.net)}

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = ${q(join(dirs.events, "events.log"))}
lock_type = "file"
tmp_dir = ${q(dirs.tmp)}
image_copy_tmp_dir = ${q(dirs.imgtmp)}
volume_path = ${q(join(dirs.root, "volumes"))}
static_dir = ${q(join(dirs.root, "libpod"))}
conmon_env_vars = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", ${q(`TMPDIR=${dirs.conmonTmp}`)}]
`,
    );
    await writeFile(
      join(d, "storage.conf"),
      `[storage]\ndriver = ${q(driver)}\nrunroot = ${q(dirs.runroot)}\ngraphroot = ${q(dirs.root)}\n`,
    );
    await writeFile(join(d, "registries.conf"), "unqualified-search-registries = []\n");
    const env = {
      CONTAINERS_CONF: join(d, "containers.conf"),
      CONTAINERS_STORAGE_CONF: join(d, "storage.conf"),
      CONTAINERS_REGISTRIES_CONF: join(d, "registries.conf"),
      TMPDIR: dirs.imgtmp,
      HOME: dirs.home,
    };
    const globalArgs = [
      "--root",
      dirs.root,
      "--runroot",
      dirs.runroot,
      "--tmpdir",
      dirs.tmp,
      "--storage-driver",
      driver,
      "--cgroup-manager",
      "cgroupfs",
      "--events-backend",
      "file",
      "--network-config-dir",
      dirs.net,
      "--runtime",
      runtimePath,
      ...(process.env.DROPIN_DEBUG ? ["--log-level", "debug"] : []),
    ];
    const s = new PodmanSession(sandbox, env, globalArgs, runtimePath, cgroupParent, logFile);

    let rootfs = opts.rootfs;
    if (!rootfs) {
      rootfs = join(d, "rootfs");
      await buildBusyboxRootfs(rootfs);
    }
    const layer = join(d, "busybox.tar");
    await tarRootfs(rootfs, layer);
    ok(await s.podman(["import", "--change", 'CMD ["/bin/sh"]', layer, PODMAN_IMAGE]));
    return s;
  }

  /** `podman <global flags> args...` inside the sandbox. */
  podman(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    return this.sandbox.run("podman", [...this.globalArgs, ...args], {
      ...opts,
      env: { ...this.env, ...opts.env },
    });
  }

  /** Flags every container gets: the runtime, no network, rlimits this host allows, our cgroup. */
  containerArgs(network = "none"): string[] {
    return [
      "--runtime",
      this.runtimePath,
      "--pull",
      "never",
      "--network",
      network,
      "--cgroup-parent",
      `/${this.cgroupParent}`,
      ...PODMAN_ULIMITS,
    ];
  }

  /** `podman run [--rm] [-t] [-d] ... IMAGE cmd...` */
  run(
    cmd: readonly string[],
    o: {
      rm?: boolean;
      detach?: boolean;
      tty?: boolean;
      name?: string;
      network?: string;
      extra?: string[];
    } = {},
  ): Promise<RunResult> {
    const args = ["run", ...this.containerArgs(o.network)];
    if (o.rm ?? !o.detach) args.push("--rm");
    if (o.detach) args.push("-d");
    if (o.tty) args.push("-t");
    if (o.name) args.push("--name", o.name);
    args.push(...(o.extra ?? []), PODMAN_IMAGE, ...cmd);
    return this.podman(args, { tty: o.tty ?? false });
  }

  exec(name: string, cmd: readonly string[], o: { tty?: boolean } = {}): Promise<RunResult> {
    return this.podman(["exec", ...(o.tty ? ["-t"] : []), name, ...cmd], { tty: o.tty ?? false });
  }

  /** Ids of all containers in this store. */
  async containerIds(): Promise<string[]> {
    const r = ok(await this.podman(["ps", "-aq", "--no-trunc"]));
    return r.stdout.split("\n").filter(Boolean);
  }

  /** Remove every container (graceful: exercises runtime kill + delete). */
  async removeAll(): Promise<RunResult> {
    return this.podman(["rm", "-af", "-t", "0"]);
  }

  /** What the logging wrapper recorded (empty unless logRuntime). Read it before teardown. */
  runtimeLog(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, "utf8") : "";
  }

  /**
   * Remove containers, reset the private store, end the sandbox (kills anything left), remove cgroups
   * and the temp dir. Returns problems found; never throws.
   */
  async teardown(): Promise<string[]> {
    const problems: string[] = [];
    try {
      const rm = await this.removeAll();
      if (rm.code !== 0) problems.push(`podman rm -af failed: ${rm.stderr.trim()}`);
      const reset = await this.podman(["system", "reset", "--force"], { timeoutMs: 30_000 });
      if (reset.code !== 0) problems.push(`podman system reset failed: ${reset.stderr.trim()}`);
    } catch (e) {
      problems.push(`podman teardown: ${String(e)}`);
    }
    problems.push(...(await this.sandbox.destroy()));
    return problems;
  }
}
