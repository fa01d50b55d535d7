/**
 * The container engine: docker's container model over pier's image service, runtime and
 * per-container monitor. Everything a container is lives in files under
 * `<root>/containers/<id>/`, so pierd can die and come back and find it all again.
 *
 *   const e = await Engine.open({ root, images });
 *   const { Id } = await e.create({ Image: "busybox", Cmd: ["echo", "hi"] }, "hello");
 *   await e.start(Id);
 *   const { StatusCode } = await e.wait(Id, "not-running");
 *
 * Per container, in its directory:
 *   container.json     the record (record.ts)
 *   init/              the init layer; merged/: the mounted rootfs while it runs
 *   bundle/config.json the OCI spec given to the runtime
 *   hosts hostname resolv.conf
 *   <id>-json.log      docker's json-file log, written by the monitor
 *   exit pid monitor.pid, stdin ctl (fifos)
 *
 * State changes of one container are serialized (a promise chain per id). Exits are
 * noticed by watching the monitor's exit file (and a 1 s sweep), then the container is
 * torn down (runtime delete, network detach, unmount) and its restart policy applied.
 */
import { EventEmitter } from "node:events";
import {
  closeSync,
  constants as fsConstants,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  watch,
  writeFileSync,
  writeSync,
  type FSWatcher,
} from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { cpus, hostname as hostHostname } from "node:os";
import { join, posix } from "node:path";
import type {
  ContainerConfig,
  ContainerCreateRequest,
  EndpointSettings,
  Health,
  HostConfig,
  Mount as ApiMount,
  MountPoint,
} from "../../api/container-types.ts";
import { PierError } from "../../common/errors.ts";
import type { Mount as OciMount } from "../../oci/runtime-spec.ts";
import type { ImageService } from "../../image/index.ts";
import { HelperSession, nsexecPath } from "../../runtime/nsexec.ts";
import { createSocket } from "node:dgram";
import { createServer, type Socket } from "node:net";
import {
  deleteContainer,
  launch,
  kill as runtimeKill,
  parseSignal,
  pause,
  resume,
  Runtime,
  start as runtimeStart,
  update as runtimeUpdate,
} from "../../runtime/index.ts";
import { isMountPoint, mountAll, unmount } from "../../snapshot/index.ts";
import { BIN_DIR, readExit, spawnMonitor, waitStarted, type ExitStatus } from "../monitor/index.ts";
import type { VolumeStore } from "../volumes/index.ts";
import { hostResolvConf, hostsFile, resolvConf } from "./etc-files.ts";
import { randomName } from "./names.ts";
import { freshState, type ContainerRecord, type Endpoint } from "./record.ts";
import { makeInitLayer, withInitLayer } from "./rootfs.ts";
import { buildSpec, INIT_BINARY } from "./spec.ts";
import { ContainerStore } from "./store.ts";

/** What the engine needs from the network layer (src/network). */
export interface NetworkPlugin {
  /** Resolves a network name/id ("bridge" is the default network); NotFound otherwise. */
  resolve(name: string): Promise<{ id: string; name: string; dns: boolean }>;
  attach(o: {
    network: string;
    containerId: string;
    containerName: string;
    netnsPath: string;
    ifName: string;
    aliases: string[];
    portMappings: { hostIp?: string; hostPort: number; containerPort: number; protocol: "tcp" | "udp" }[];
    ip?: string;
  }): Promise<{ ip: string; prefixLen: number; gateway: string; mac: string; networkId: string }>;
  detach(o: { network: string; containerId: string; netnsPath?: string }): Promise<void>;
  /** The resolv.conf for a container on this network (a user network's DNS server). */
  resolvConf?(network: string): string | undefined;
}

export interface EngineOptions {
  root: string;
  images: ImageService;
  volumes: VolumeStore;
  networks?: NetworkPlugin;
  runtimeBin?: string;
  monitorBin?: string;
  /** Where lxcfs is mounted (its /proc views are bound in), or undefined for none. */
  lxcfsDir?: string;
  /** Finds or starts lxcfs when the first container needs it (instead of lxcfsDir). */
  lxcfs?: () => Promise<string | undefined>;
  /** Short directory for console sockets (unix socket paths are limited to 107 bytes). */
  runDir?: string;
  log?: (s: string) => void;
}

/** iproute2's ip, by absolute path (no PATH search on every container start). */
const IP = ["/usr/sbin/ip", "/usr/bin/ip", "/sbin/ip", "/bin/ip"].find((p) => existsSync(p)) ?? "ip";
const PREDEFINED = new Set(["bridge", "host", "none", "default"]);
const nowRfc = () =>
  new Date()
    .toISOString()
    .replace("Z", "000000Z")
    .replace(/\.(\d{3})000000Z$/, ".$1000000Z");

export function networkModeOf(hc: HostConfig): string {
  const m = hc.NetworkMode ?? "";
  return m === "" || m === "default" ? "bridge" : m;
}

export class Engine {
  readonly store: ContainerStore;
  readonly runtime: Runtime;
  readonly events = new EventEmitter();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly watchers = new Map<string, FSWatcher>();
  private sweep: NodeJS.Timeout | undefined;
  readonly runtimeBin: string;
  readonly runDir: string;
  private closed = false;

  private constructor(
    readonly opts: EngineOptions,
    store: ContainerStore,
  ) {
    this.store = store;
    this.runtime = new Runtime({
      root: join(opts.root, "runtime"),
      onWarn: (m) => opts.log?.(`runtime: ${m}`),
    });
    this.runtimeBin = opts.runtimeBin ?? join(BIN_DIR, "pier-runtime");
    this.runDir = opts.runDir ?? "/run/pier/c";
    this.events.setMaxListeners(0);
  }

  static async open(opts: EngineOptions): Promise<Engine> {
    const e = new Engine(opts, await ContainerStore.open(opts.root));
    mkdirSync(e.runDir, { recursive: true, mode: 0o700 });
    await e.recover();
    e.sweep = setInterval(() => void e.sweepExits(), 1000);
    e.sweep.unref();
    return e;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.sweep) clearInterval(this.sweep);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    await Promise.allSettled([...this.locks.values()]);
  }

  private log(s: string): void {
    this.opts.log?.(s);
  }

  /** Runs `fn` after every earlier state change of this container. */
  private serial<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.locks.set(id, tail);
    void tail.then(() => {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    });
    return next;
  }

  async get(ref: string): Promise<ContainerRecord> {
    const id = await this.store.resolve(ref);
    const rec = await this.store.load(id);
    if (!rec) throw new PierError("NotFound", `No such container: ${ref}`);
    return rec;
  }

  list(): Promise<ContainerRecord[]> {
    return this.store.list();
  }

  files(id: string) {
    const p = (...r: string[]) => this.store.pathOf(id, ...r);
    return {
      dir: p(),
      init: p("init"),
      merged: p("merged"),
      bundle: p("bundle"),
      hosts: p("hosts"),
      hostname: p("hostname"),
      resolvConf: p("resolv.conf"),
      log: p(`${id}-json.log`),
      exit: p("exit"),
      pid: p("pid"),
      monitorPid: p("monitor.pid"),
      stdin: p("stdin"),
      ctl: p("ctl"),
      console: join(this.runDir, `${id.slice(0, 16)}.sock`),
    };
  }

  // ---- create ---------------------------------------------------------------------------

  async create(req: ContainerCreateRequest, name?: string): Promise<{ Id: string; Warnings: string[] }> {
    if (!req.Image)
      throw new PierError("InvalidArgument", "no image given", { hint: "name an image to run" });
    const hc: HostConfig = structuredClone(req.HostConfig ?? {});
    const warnings = validateHostConfig(hc);
    const img = await this.opts.images.resolve(req.Image);
    const config = mergeConfig(img.config.config ?? {}, req);
    const argv = [...(config.Entrypoint ?? []), ...(config.Cmd ?? [])];
    if (argv.length === 0) {
      throw new PierError("InvalidArgument", "no command specified", {
        hint: "give a command after the image name, or use an image with a CMD or ENTRYPOINT",
      });
    }
    const mode = networkModeOf(hc);
    if (mode.startsWith("container:")) await this.get(mode.slice("container:".length));
    else if (!PREDEFINED.has(mode) && this.opts.networks) await this.opts.networks.resolve(mode);
    else if (!PREDEFINED.has(mode)) throw new PierError("NotFound", `network ${mode} not found`);
    if ((mode === "host" || mode.startsWith("container:")) && Object.keys(hc.PortBindings ?? {}).length) {
      warnings.push("Published ports are discarded when using host network mode");
      hc.PortBindings = {};
    }

    const id = ContainerStore.newId();
    let chosen = name;
    if (chosen !== undefined && chosen !== "") {
      if (chosen.startsWith("/")) chosen = chosen.slice(1);
      await this.store.claimName(chosen, id);
    } else {
      for (let i = 0; ; i++) {
        chosen = randomName(i);
        try {
          await this.store.claimName(chosen, id);
          break;
        } catch (err) {
          if (i > 20 || !(err instanceof PierError && err.kind === "Conflict")) throw err;
        }
      }
    }
    const f = this.files(id);
    const snapshotKey = `container-${id}`;
    let prepared = false;
    try {
      await mkdir(f.dir, { recursive: true, mode: 0o710 });
      // The log exists from the start, so an attach made before start can open it at once.
      writeFileSync(f.log, "", { mode: 0o640 });
      makeInitLayer(f.init);
      await this.opts.images.prepareRootfs(img.id, snapshotKey, { labels: { "pier.container": id } });
      prepared = true;
      const mounts = await this.resolveMounts(hc, config);
      const rec: ContainerRecord = {
        id,
        name: chosen!,
        created: nowRfc(),
        image: req.Image,
        imageId: img.id,
        config,
        hostConfig: hc,
        endpointsConfig: req.NetworkingConfig?.EndpointsConfig ?? {},
        path: argv[0]!,
        args: argv.slice(1),
        state: freshState(),
        mounts,
        endpoints: {},
        snapshotKey,
        lxcfs: false,
        ports: {},
      };
      await this.store.save(rec);
      this.emit(rec, "create");
      return { Id: id, Warnings: warnings };
    } catch (err) {
      await this.store.releaseName(chosen!, id);
      if (prepared) await this.opts.images.removeRootfs(snapshotKey).catch(() => undefined);
      await rm(f.dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** -v, --mount, --tmpfs and the image's VOLUMEs → mount points (volumes created now). */
  private async resolveMounts(hc: HostConfig, config: ContainerConfig): Promise<MountPoint[]> {
    const out: MountPoint[] = [];
    const taken = new Set<string>();
    const add = (m: MountPoint) => {
      const dest = posix.normalize(m.Destination);
      if (taken.has(dest)) throw new PierError("InvalidArgument", `Duplicate mount point: ${dest}`);
      taken.add(dest);
      out.push({ ...m, Destination: dest });
    };
    for (const b of hc.Binds ?? []) {
      const parts = b.split(":");
      if (parts.length < 2 || parts.length > 3) {
        throw new PierError("InvalidArgument", `invalid volume specification: '${b}'`, {
          hint: "use HOST-DIR:CONTAINER-DIR[:ro], VOLUME:CONTAINER-DIR[:ro] or CONTAINER-DIR",
        });
      }
      const [src, dst, opt = ""] = parts as [string, string, string?];
      if (!dst.startsWith("/"))
        throw new PierError(
          "InvalidArgument",
          `invalid volume specification: '${b}': invalid mount config for type "bind": invalid mount path: '${dst}' mount path must be absolute`,
        );
      const rw = !opt.split(",").includes("ro");
      if (src.startsWith("/")) {
        if (!existsSync(src)) mkdirSync(src, { recursive: true }); // docker makes a missing -v source
        add({ Type: "bind", Source: src, Destination: dst, Mode: opt, RW: rw, Propagation: "rprivate" });
      } else {
        const v = await this.opts.volumes.create({ name: src });
        add({
          Type: "volume",
          Name: v.Name,
          Source: v.Mountpoint,
          Destination: dst,
          Driver: "local",
          Mode: opt || "z",
          RW: rw,
          Propagation: "",
        });
      }
    }
    for (const m of hc.Mounts ?? []) out.push(...(await this.apiMount(m, taken)));
    for (const [dst, opts] of Object.entries(hc.Tmpfs ?? {})) {
      add({
        Type: "tmpfs",
        Source: "",
        Destination: dst,
        Mode: opts,
        RW: !opts.split(",").includes("ro"),
        Propagation: "",
      });
    }
    for (const dst of Object.keys(config.Volumes ?? {})) {
      if (taken.has(posix.normalize(dst))) continue;
      const v = await this.opts.volumes.create({});
      add({
        Type: "volume",
        Name: v.Name,
        Source: v.Mountpoint,
        Destination: dst,
        Driver: "local",
        Mode: "",
        RW: true,
        Propagation: "",
      });
    }
    return out;
  }

  private async apiMount(m: ApiMount, taken: Set<string>): Promise<MountPoint[]> {
    const dst = posix.normalize(m.Target ?? "");
    if (!m.Target || !dst.startsWith("/"))
      throw new PierError(
        "InvalidArgument",
        `invalid mount config: target must be an absolute path: '${m.Target ?? ""}'`,
      );
    if (taken.has(dst)) throw new PierError("InvalidArgument", `Duplicate mount point: ${dst}`);
    taken.add(dst);
    const rw = m.ReadOnly !== true;
    if (m.Type === "bind") {
      if (!m.Source || !existsSync(m.Source)) {
        throw new PierError(
          "InvalidArgument",
          `invalid mount config for type "bind": bind source path does not exist: ${m.Source ?? ""}`,
        );
      }
      return [
        {
          Type: "bind",
          Source: m.Source,
          Destination: dst,
          Mode: "",
          RW: rw,
          Propagation: m.BindOptions?.Propagation ?? "rprivate",
        },
      ];
    }
    if (m.Type === "volume") {
      const v = await this.opts.volumes.create(
        m.Source ? { name: m.Source, labels: m.VolumeOptions?.Labels ?? {} } : {},
      );
      return [
        {
          Type: "volume",
          Name: v.Name,
          Source: v.Mountpoint,
          Destination: dst,
          Driver: "local",
          Mode: m.VolumeOptions?.NoCopy ? "nocopy" : "z",
          RW: rw,
          Propagation: "",
        },
      ];
    }
    if (m.Type === "tmpfs") {
      const o: string[] = [];
      if (m.TmpfsOptions?.SizeBytes) o.push(`size=${m.TmpfsOptions.SizeBytes}`);
      if (m.TmpfsOptions?.Mode) o.push(`mode=${m.TmpfsOptions.Mode.toString(8)}`);
      return [{ Type: "tmpfs", Source: "", Destination: dst, Mode: o.join(","), RW: rw, Propagation: "" }];
    }
    throw new PierError("InvalidArgument", `mount type ${m.Type} is not supported`, {
      hint: "use bind, volume or tmpfs",
    });
  }

  // ---- start ----------------------------------------------------------------------------

  async start(ref: string): Promise<"started" | "already"> {
    const id = await this.store.resolve(ref);
    try {
      return await this.serial(id, () => this.startLocked(id));
    } catch (err) {
      // A --rm container that cannot start is removed, as docker does (its /wait ends).
      const rec = await this.store.load(id);
      if (rec?.hostConfig.AutoRemove)
        await this.remove(id, { force: true, volumes: true }).catch(() => undefined);
      throw err;
    }
  }

  private async startLocked(id: string, restarting = false): Promise<"started" | "already"> {
    const rec = await this.store.load(id);
    if (!rec) throw new PierError("NotFound", `No such container: ${id}`);
    if (rec.state.status === "running" || rec.state.status === "paused") return "already";
    if (rec.state.status === "removing") throw new PierError("Conflict", `container ${id} is being removed`);
    const f = this.files(id);
    const undo: (() => Promise<void>)[] = [];
    try {
      // The root file system: image layers, init layer, writable layer.
      const layered = withInitLayer(await this.opts.images.rootfsMounts(rec.snapshotKey), f.init);
      await mkdir(f.merged, { recursive: true });
      if (!isMountPoint(f.merged)) {
        await mountAll(layered.mounts, f.merged);
        undo.push(() => unmount(f.merged, { detach: true }));
      }
      // Volumes: docker's copy-up of the image's content into a new volume.
      for (const m of rec.mounts) {
        if (m.Type === "volume" && m.Name && !m.Mode.includes("nocopy")) {
          await this.opts.volumes.fill(m.Name, join(f.merged, m.Destination));
        }
      }
      const net = await this.setupNetwork(rec, undo);
      const lxcfsDir = await this.lxcfsFor(rec);
      const spec = buildSpec({
        rec,
        rootfs: f.merged,
        etcFiles: net.etc,
        netns: net.netns,
        mounts: ociMounts(rec.mounts),
        ...(lxcfsDir ? { lxcfsDir } : {}),
        cgroupsPath: `/pier/${id}`,
      });
      if (rec.hostConfig.Init && !existsSync(INIT_BINARY)) {
        throw new PierError("FailedPrecondition", `--init needs ${INIT_BINARY}`, {
          hint: "apt-get install catatonit",
        });
      }
      await mkdir(f.bundle, { recursive: true });
      await writeFile(join(f.bundle, "config.json"), JSON.stringify(spec));
      // A leftover runtime state of an earlier run must go first.
      try {
        deleteContainer(this.runtime, id, true);
      } catch {
        // none
      }
      const started = await this.createThroughMonitor(rec, f);
      // Created and waiting on its exec fifo: release it (what `pier-runtime start` does).
      runtimeStart(this.runtime, id);
      rec.state = {
        ...rec.state,
        status: "running",
        pid: started.containerPid,
        monitorPid: started.monitorPid,
        exitCode: 0,
        oomKilled: false,
        error: "",
        startedAt: nowRfc(),
        finishedAt: rec.state.finishedAt,
        manuallyStopped: false,
        restartCount: restarting ? rec.state.restartCount : rec.state.restartCount,
      };
      delete rec.state.health;
      rec.lxcfs = lxcfsDir !== undefined;
      await this.store.save(rec);
      void this.watchExit(id);
      if (rec.config.Tty && rec.hostConfig.ConsoleSize?.[0]) {
        this.resize(id, rec.hostConfig.ConsoleSize[0], rec.hostConfig.ConsoleSize[1]);
      }
      this.emit(rec, "start");
      return "started";
    } catch (err) {
      const exit = readExit(f.exit);
      for (const u of undo.reverse()) await u().catch(() => undefined);
      try {
        deleteContainer(this.runtime, id, true);
      } catch {
        // nothing was created
      }
      rec.endpoints = {};
      rec.state.error = err instanceof Error ? err.message : String(err);
      rec.state.exitCode = exit?.exitCode === -1 || !exit ? 128 : exit.exitCode;
      await this.store.save(rec).catch(() => undefined);
      throw startError(err);
    }
  }

  /**
   * Creates the container as the monitor's child without any runtime process: the monitor
   * runs `pier-nsexec 3` with fd 3 connected to a socket here, and this process drives it
   * with the runtime library (plan, cgroups, state), as `pier-runtime create` would.
   */
  private async createThroughMonitor(
    rec: ContainerRecord,
    f: ReturnType<Engine["files"]>,
  ): Promise<{ containerPid: number; monitorPid: number }> {
    const id = rec.id;
    const syncPath = join(this.runDir, `${id.slice(0, 16)}.sync`);
    rmSync(syncPath, { force: true });
    const server = createServer();
    await new Promise<void>((res, rej) => {
      server.once("error", rej);
      server.listen(syncPath, () => res());
    });
    try {
      const accepted = new Promise<Socket>((res, rej) => {
        server.once("connection", res);
        const t = setTimeout(
          () => rej(new PierError("Unavailable", `container ${id}: the monitor did not connect`)),
          30_000,
        );
        t.unref();
      });
      const launching = launch(
        this.runtime,
        id,
        {
          bundle: f.bundle,
          pidFile: `${f.pid}.create`,
          ...(rec.config.Tty ? { consoleSocket: f.console } : {}),
          helper: async (plan) => HelperSession.connected(plan, await accepted),
        },
        "create",
        false,
      ).then(({ rec: created, session }) => {
        session.close();
        return created.pid;
      });
      const mo = {
        runtime: this.runtimeBin,
        root: join(this.opts.root, "runtime"),
        bundle: f.bundle,
        id,
        logPath: f.log,
        exitPath: f.exit,
        pidFile: f.pid,
        monitorPidFile: f.monitorPid,
        ctlFifo: f.ctl,
        nsexec: { path: nsexecPath(), syncSocket: syncPath },
        ...(rec.config.OpenStdin ? { stdinFifo: f.stdin } : {}),
        ...(rec.config.Tty ? { consoleSocket: f.console } : {}),
        ...(this.opts.monitorBin ? { monitorBin: this.opts.monitorBin } : {}),
      };
      const spawned = spawnMonitor(mo);
      const [l, m] = await Promise.allSettled([launching, spawned]);
      if (l.status === "rejected") {
        // The monitor records the failed create; make sure it is gone before cleaning up.
        if (m.status === "fulfilled") await waitStarted(mo).catch(() => undefined);
        throw l.reason;
      }
      if (m.status === "rejected") throw m.reason;
      // launch() knows the pid as soon as the container is created: no need to wait for
      // the monitor to publish it.
      const containerPid = l.value;
      if (!containerPid) return waitStarted(mo);
      return { containerPid, monitorPid: m.value };
    } finally {
      server.close();
      rmSync(syncPath, { force: true });
    }
  }

  private lxcfsDir: string | undefined;
  private lxcfsAsked = false;

  /** The lxcfs mount for this container, or undefined (turned off, or no lxcfs). */
  private async lxcfsFor(rec: ContainerRecord): Promise<string | undefined> {
    if (rec.hostConfig.Annotations?.["io.pier.lxcfs"] === "false") return undefined;
    if (this.opts.lxcfsDir) return this.opts.lxcfsDir;
    if (!this.lxcfsAsked && this.opts.lxcfs) {
      this.lxcfsAsked = true;
      this.lxcfsDir = await this.opts.lxcfs().catch(() => undefined);
    }
    return this.lxcfsDir;
  }

  /** Network namespace, endpoints and the /etc files, per network mode. */
  private async setupNetwork(
    rec: ContainerRecord,
    undo: (() => Promise<void>)[],
  ): Promise<{
    netns: { path: string } | "host";
    etc: { hosts: string; hostname: string; resolvConf: string };
  }> {
    const f = this.files(rec.id);
    const hc = rec.hostConfig;
    const mode = networkModeOf(hc);
    const hostname = rec.config.Hostname || rec.id.slice(0, 12);
    const etc = { hosts: f.hosts, hostname: f.hostname, resolvConf: f.resolvConf };
    const dnsOpts = { dns: hc.Dns ?? [], search: hc.DnsSearch ?? [], options: hc.DnsOptions ?? [] };
    if (mode === "host") {
      writeFileSync(f.hostname, `${hostHostname()}\n`);
      writeFileSync(f.hosts, readFileOr("/etc/hosts", hostsFile({ hostname: hostHostname() })));
      writeFileSync(f.resolvConf, resolvConf({ base: hostResolvConf("/etc/resolv.conf", true), ...dnsOpts }));
      rec.config.Hostname = hostHostname();
      return { netns: "host", etc };
    }
    if (mode.startsWith("container:")) {
      const other = await this.get(mode.slice("container:".length));
      if (other.state.status !== "running" || !other.state.pid) {
        throw new PierError(
          "FailedPrecondition",
          `cannot join network of a non running container: ${other.id}`,
        );
      }
      const of = this.files(other.id);
      return {
        netns: { path: `/proc/${other.state.pid}/ns/net` },
        etc: { hosts: of.hosts, hostname: of.hostname, resolvConf: of.resolvConf },
      };
    }
    // Its own network namespace, made here so that it outlives the process for teardown.
    const nsName = `pier-${rec.id.slice(0, 12)}`;
    execFileSync(IP, ["netns", "add", nsName], { stdio: "pipe" });
    const nsPath = `/run/netns/${nsName}`;
    undo.push(async () => {
      execFileSync(IP, ["netns", "delete", nsName], { stdio: "ignore" });
    });
    execFileSync(IP, ["-n", nsName, "link", "set", "lo", "up"], { stdio: "pipe" });
    rec.netnsPath = nsPath;
    rec.endpoints = {};
    rec.ports = {};
    let resolv = hostResolvConf();
    let primary: { ip: string; gateway: string } | undefined;
    if (mode !== "none") {
      if (!this.opts.networks) {
        throw new PierError("Unavailable", "networking is not available in this pierd", {
          hint: "use --network none or host",
        });
      }
      const nets = [mode, ...Object.keys(rec.endpointsConfig).filter((n) => n !== mode && n !== "default")];
      const ports = await portMappings(rec);
      for (const [i, n] of nets.entries()) {
        const net = await this.opts.networks.resolve(n);
        const settings = rec.endpointsConfig[n] ?? rec.endpointsConfig["default"] ?? {};
        const aliases = [...(settings.Aliases ?? [])];
        if (net.dns) aliases.push(rec.name, rec.id.slice(0, 12));
        const got = await this.opts.networks.attach({
          network: net.name,
          containerId: rec.id,
          containerName: rec.name,
          netnsPath: nsPath,
          ifName: `eth${i}`,
          aliases,
          portMappings: i === 0 ? ports.mappings : [],
          ...(settings.IPAMConfig?.IPv4Address ? { ip: settings.IPAMConfig.IPv4Address } : {}),
        });
        const networks = this.opts.networks;
        undo.push(() => networks.detach({ network: net.name, containerId: rec.id, netnsPath: nsPath }));
        const ep: Endpoint = {
          Network: net.name,
          NetworkID: got.networkId,
          EndpointID: `${rec.id.slice(0, 32)}${i}`,
          Gateway: got.gateway,
          IPAddress: got.ip,
          IPPrefixLen: got.prefixLen,
          MacAddress: got.mac,
          Aliases: net.dns ? aliases : null,
        };
        rec.endpoints[net.name] = ep;
        if (i === 0) {
          primary = { ip: got.ip, gateway: got.gateway };
          rec.ports = ports.bound;
          const rc = this.opts.networks.resolvConf?.(net.name);
          if (rc) resolv = rc;
        }
      }
    }
    writeFileSync(f.hostname, `${hostname}\n`);
    writeFileSync(
      f.hosts,
      hostsFile({
        hostname,
        extraHosts: hc.ExtraHosts ?? [],
        ...(primary ? { ip: primary.ip, gateway: primary.gateway } : {}),
      }),
    );
    writeFileSync(f.resolvConf, resolvConf({ base: resolv, ...dnsOpts }));
    return { netns: { path: nsPath }, etc };
  }

  private async teardownNetwork(rec: ContainerRecord): Promise<void> {
    for (const ep of Object.values(rec.endpoints)) {
      await this.opts.networks
        ?.detach({
          network: ep.Network,
          containerId: rec.id,
          ...(rec.netnsPath ? { netnsPath: rec.netnsPath } : {}),
        })
        .catch((err: unknown) =>
          this.log(`detach ${rec.id.slice(0, 12)} from ${ep.Network}: ${String(err)}`),
        );
    }
    if (rec.netnsPath) {
      try {
        execFileSync(IP, ["netns", "delete", rec.netnsPath.split("/").pop()!], { stdio: "ignore" });
      } catch {
        // gone already
      }
    }
    rec.endpoints = {};
    delete rec.netnsPath;
  }

  // ---- exits ----------------------------------------------------------------------------

  private watchExit(id: string): Promise<void> {
    if (this.watchers.has(id) || this.closed) return Promise.resolve();
    try {
      const w = watch(this.store.pathOf(id), { persistent: false }, (_ev, file) => {
        if (file === "exit") void this.noticeExit(id);
      });
      w.on("error", () => undefined);
      this.watchers.set(id, w);
    } catch {
      // the sweep will notice
    }
    return this.noticeExit(id);
  }

  private async sweepExits(): Promise<void> {
    if (this.closed) return;
    for (const id of [...this.watchers.keys()]) await this.noticeExit(id);
  }

  /** When the monitor recorded an exit for a running container: tear it down. */
  private noticeExit(id: string): Promise<void> {
    const f = this.files(id);
    if (!existsSync(f.exit)) {
      // A monitor that died without writing (killed by hand) leaves a dead container.
      const mpid = readPidFile(f.monitorPid);
      if (mpid && alive(mpid)) return Promise.resolve();
      if (!existsSync(f.dir)) return Promise.resolve();
    }
    return this.serial(id, async () => {
      const rec = await this.store.load(id);
      if (!rec || (rec.state.status !== "running" && rec.state.status !== "paused")) {
        this.unwatch(id);
        return;
      }
      const exit = readExit(f.exit);
      if (!exit) {
        const mpid = readPidFile(f.monitorPid);
        if (mpid && alive(mpid)) return;
      }
      await this.finishRun(rec, exit);
    });
  }

  private unwatch(id: string): void {
    this.watchers.get(id)?.close();
    this.watchers.delete(id);
  }

  private async finishRun(rec: ContainerRecord, exit: ExitStatus | undefined): Promise<void> {
    const id = rec.id;
    this.unwatch(id);
    const oom = oomKilled(id);
    try {
      deleteContainer(this.runtime, id, true);
    } catch (err) {
      this.log(`runtime delete ${id.slice(0, 12)}: ${String(err)}`);
    }
    await this.teardownNetwork(rec);
    const f = this.files(id);
    if (isMountPoint(f.merged)) {
      await unmount(f.merged, { detach: true }).catch((err: unknown) =>
        this.log(`unmount ${id.slice(0, 12)}: ${String(err)}`),
      );
    }
    rec.state = {
      ...rec.state,
      status: "exited",
      pid: 0,
      monitorPid: 0,
      exitCode: exit ? exit.exitCode : 255,
      oomKilled: oom || (exit?.oomKilled ?? false),
      error: exit ? (exit.error ?? "") : "the container's monitor is gone",
      finishedAt: exit?.finishedAt || nowRfc(),
    };
    await this.store.save(rec);
    this.emit(rec, "die", { exitCode: rec.state.exitCode });
    if (rec.hostConfig.AutoRemove) {
      await this.removeLocked(rec.id, { force: true, volumes: true });
      return;
    }
    const delay = this.restartDelay(rec);
    if (delay !== undefined) {
      rec.state.status = "restarting";
      rec.state.restartCount++;
      await this.store.save(rec);
      const t = setTimeout(() => {
        void this.serial(id, async () => {
          const cur = await this.store.load(id);
          if (!cur || cur.state.status !== "restarting" || this.closed) return;
          cur.state.status = "exited";
          await this.store.save(cur);
          await this.startLocked(id, true).catch((err: unknown) =>
            this.log(`restart ${id.slice(0, 12)}: ${String(err)}`),
          );
        });
      }, delay);
      t.unref();
    }
  }

  /** ms to wait before a restart by policy, or undefined for none (docker's back-off). */
  private restartDelay(rec: ContainerRecord): number | undefined {
    const p = rec.hostConfig.RestartPolicy;
    if (!p?.Name || p.Name === "no" || rec.state.manuallyStopped) return undefined;
    if (p.Name === "on-failure") {
      if (rec.state.exitCode === 0) return undefined;
      if (p.MaximumRetryCount && rec.state.restartCount >= p.MaximumRetryCount) return undefined;
    }
    return Math.min(100 * 2 ** Math.min(rec.state.restartCount, 10), 60_000);
  }

  private emit(rec: ContainerRecord, action: string, extra: Record<string, unknown> = {}): void {
    this.events.emit("event", { id: rec.id, name: rec.name, image: rec.image, action, ...extra });
    this.events.emit(`${action}:${rec.id}`, rec);
  }

  /** On open: find every container again; finish the ones whose process ended meanwhile. */
  private async recover(): Promise<void> {
    for (const rec of await this.store.list()) {
      if (rec.state.status === "running" || rec.state.status === "paused") await this.watchExit(rec.id);
      else if (rec.state.status === "restarting") {
        rec.state.status = "exited";
        await this.store.save(rec);
      }
      if (rec.state.status === "removing") {
        await this.serial(rec.id, () => this.removeLocked(rec.id, { force: true, volumes: false })).catch(
          () => undefined,
        );
      }
    }
    // Restart policies apply at daemon start as docker's do (unless-stopped and always).
    for (const rec of await this.store.list()) {
      const p = rec.hostConfig.RestartPolicy?.Name;
      if (
        rec.state.status === "exited" &&
        (p === "always" || (p === "unless-stopped" && !rec.state.manuallyStopped))
      ) {
        void this.start(rec.id).catch((err: unknown) =>
          this.log(`restart ${rec.id.slice(0, 12)}: ${String(err)}`),
        );
      }
    }
  }

  // ---- stop, kill, wait, remove ---------------------------------------------------------

  async kill(ref: string, signal = "KILL"): Promise<void> {
    const rec = await this.get(ref);
    const sig = parseSignal(signal);
    if (rec.state.status !== "running" && rec.state.status !== "paused") {
      throw new PierError("Conflict", `Cannot kill container: ${ref}: Container ${rec.id} is not running`);
    }
    if (sig === 9 || sig === 15 || sig === 2) {
      rec.state.manuallyStopped = true;
      await this.store.save(rec);
    }
    try {
      runtimeKill(this.runtime, rec.id, String(sig));
    } catch (err) {
      if (!(err instanceof PierError && err.kind === "FailedPrecondition")) throw err;
    }
  }

  /** docker stop: the stop signal, then SIGKILL after the timeout. "not-running" if already stopped. */
  async stop(
    ref: string,
    opts: { timeout?: number; signal?: string } = {},
  ): Promise<"stopped" | "not-running"> {
    const rec = await this.get(ref);
    if (rec.state.status === "restarting") {
      rec.state.status = "exited";
      rec.state.manuallyStopped = true;
      await this.store.save(rec);
      return "stopped";
    }
    if (rec.state.status !== "running" && rec.state.status !== "paused") return "not-running";
    rec.state.manuallyStopped = true;
    await this.store.save(rec);
    if (rec.state.status === "paused") resume(this.runtime, rec.id);
    const sig = opts.signal ?? rec.config.StopSignal ?? "SIGTERM";
    const timeout = opts.timeout ?? rec.config.StopTimeout ?? 10;
    const exited = this.wait(rec.id, "not-running");
    try {
      runtimeKill(this.runtime, rec.id, sig);
    } catch {
      // exited meanwhile
    }
    const first = await Promise.race([exited.then(() => true), sleep(timeout * 1000).then(() => false)]);
    if (!first) {
      try {
        runtimeKill(this.runtime, rec.id, "KILL", true);
      } catch {
        // exited meanwhile
      }
      await exited;
    }
    return "stopped";
  }

  async restart(ref: string, opts: { timeout?: number; signal?: string } = {}): Promise<void> {
    await this.stop(ref, opts);
    const rec = await this.get(ref);
    await this.start(rec.id);
  }

  /**
   * Resolves with the exit code once the condition holds: "not-running" (now if it is not
   * running), "next-exit" (the next exit), "removed" (once removed).
   */
  async wait(
    ref: string,
    condition: "not-running" | "next-exit" | "removed" = "not-running",
  ): Promise<{ StatusCode: number; Error?: { Message: string } }> {
    const rec = await this.get(ref);
    const id = rec.id;
    const running =
      rec.state.status === "running" || rec.state.status === "paused" || rec.state.status === "restarting";
    if (condition === "not-running" && !running) return { StatusCode: rec.state.exitCode };
    return new Promise((resolve) => {
      let code = rec.state.exitCode;
      const onDie = (r: ContainerRecord) => {
        code = r.state.exitCode;
        if (condition === "removed") return;
        cleanup();
        resolve({ StatusCode: code });
      };
      const onRemove = (r: ContainerRecord) => {
        cleanup();
        resolve({ StatusCode: r.state.exitCode ?? code });
      };
      const cleanup = () => {
        this.events.off(`die:${id}`, onDie);
        this.events.off(`destroy:${id}`, onRemove);
      };
      this.events.on(`die:${id}`, onDie);
      this.events.on(`destroy:${id}`, onRemove);
    });
  }

  remove(ref: string, opts: { force?: boolean; volumes?: boolean } = {}): Promise<void> {
    return this.store.resolve(ref).then((id) => this.serial(id, () => this.removeLocked(id, opts)));
  }

  private async removeLocked(id: string, opts: { force?: boolean; volumes?: boolean }): Promise<void> {
    const rec = await this.store.load(id);
    if (!rec) return;
    if (rec.state.status === "running" || rec.state.status === "paused") {
      if (!opts.force) {
        throw new PierError(
          "Conflict",
          `cannot remove container "/${rec.name}": container is running: stop the container before removing or force remove`,
        );
      }
      if (rec.state.status === "paused") resume(this.runtime, id);
      try {
        runtimeKill(this.runtime, id, "KILL", true);
      } catch {
        // gone
      }
      const f = this.files(id);
      for (let i = 0; i < 200 && !existsSync(f.exit); i++) await sleep(25);
      await this.finishRun(
        { ...rec, hostConfig: { ...rec.hostConfig, AutoRemove: false, RestartPolicy: { Name: "no" } } },
        readExit(f.exit),
      );
    }
    const cur = (await this.store.load(id)) ?? rec;
    cur.state.status = "removing";
    await this.store.save(cur);
    const f = this.files(id);
    if (isMountPoint(f.merged)) await unmount(f.merged, { detach: true }).catch(() => undefined);
    await this.teardownNetwork(cur);
    await this.opts.images.removeRootfs(cur.snapshotKey).catch((err: unknown) => {
      if (!(err instanceof PierError && err.kind === "NotFound")) throw err;
    });
    if (opts.volumes) {
      const others = (await this.store.list()).filter((r) => r.id !== id);
      for (const m of cur.mounts) {
        if (m.Type !== "volume" || !m.Name) continue;
        const v = await this.opts.volumes.inspect(m.Name).catch(() => undefined);
        if (!v?.anonymous) continue;
        if (others.some((o) => o.mounts.some((x) => x.Name === m.Name))) continue;
        await this.opts.volumes.remove(m.Name, [], { force: true }).catch(() => undefined);
      }
    }
    await this.store.remove(cur);
    rmSync(f.console, { force: true });
    this.emit(cur, "destroy");
  }

  /** Updates State.Health of a running container (health.ts). */
  async setHealth(id: string, fn: (h: Health | undefined) => Health): Promise<void> {
    await this.serial(id, async () => {
      const rec = await this.store.load(id);
      if (!rec || rec.state.status !== "running") return;
      rec.state.health = fn(rec.state.health);
      await this.store.save(rec);
      this.emit(rec, `health_status: ${rec.state.health.Status}`);
    });
  }

  // ---- networks ------------------------------------------------------------------------

  /** docker network connect: now when running (a new interface), else at the next start. */
  async connect(ref: string, network: string, settings: EndpointSettings): Promise<void> {
    const rec = await this.get(ref);
    const plugin = this.opts.networks;
    if (!plugin) throw new PierError("Unavailable", "networking is not available in this pierd");
    const net = await plugin.resolve(network);
    const mode = networkModeOf(rec.hostConfig);
    if (mode === "host" || mode === "none" || mode.startsWith("container:")) {
      throw new PierError(
        "InvalidArgument",
        `container cannot be connected to network: it uses --network ${mode}`,
      );
    }
    await this.serial(rec.id, async () => {
      const cur = (await this.store.load(rec.id))!;
      if (
        cur.endpointsConfig[net.name] ||
        cur.endpoints[net.name] ||
        networkModeOf(cur.hostConfig) === net.name
      ) {
        throw new PierError(
          "Conflict",
          `endpoint with name ${cur.name} already exists in network ${net.name}`,
        );
      }
      cur.endpointsConfig[net.name] = settings;
      if ((cur.state.status === "running" || cur.state.status === "paused") && cur.netnsPath) {
        const aliases = [...(settings.Aliases ?? []), ...(net.dns ? [cur.name, cur.id.slice(0, 12)] : [])];
        const i = Object.keys(cur.endpoints).length;
        const got = await plugin.attach({
          network: net.name,
          containerId: cur.id,
          containerName: cur.name,
          netnsPath: cur.netnsPath,
          ifName: `eth${i}`,
          aliases,
          portMappings: [],
          ...(settings.IPAMConfig?.IPv4Address ? { ip: settings.IPAMConfig.IPv4Address } : {}),
        });
        cur.endpoints[net.name] = {
          Network: net.name,
          NetworkID: got.networkId,
          EndpointID: `${cur.id.slice(0, 32)}${i}`,
          Gateway: got.gateway,
          IPAddress: got.ip,
          IPPrefixLen: got.prefixLen,
          MacAddress: got.mac,
          Aliases: net.dns ? aliases : null,
        };
      }
      await this.store.save(cur);
    });
  }

  async disconnect(ref: string, network: string, force = false): Promise<void> {
    const rec = await this.get(ref);
    const plugin = this.opts.networks;
    if (!plugin) throw new PierError("Unavailable", "networking is not available in this pierd");
    const net = await plugin.resolve(network).catch((err: unknown) => {
      if (force) return { id: network, name: network, dns: false };
      throw err;
    });
    await this.serial(rec.id, async () => {
      const cur = (await this.store.load(rec.id))!;
      const ep = cur.endpoints[net.name];
      const configured = net.name in cur.endpointsConfig || networkModeOf(cur.hostConfig) === net.name;
      if (!ep && !configured && !force) {
        throw new PierError("Conflict", `container ${cur.id} is not connected to network ${net.name}`);
      }
      if (ep) {
        await plugin.detach({
          network: net.name,
          containerId: cur.id,
          ...(cur.netnsPath ? { netnsPath: cur.netnsPath } : {}),
        });
        delete cur.endpoints[net.name];
      }
      delete cur.endpointsConfig[net.name];
      if (networkModeOf(cur.hostConfig) === net.name) {
        // The primary network: the next start uses the first other one, or none.
        const next = Object.keys(cur.endpointsConfig).find((n) => n !== "default");
        cur.hostConfig.NetworkMode = next ?? "none";
        if (next) delete cur.endpointsConfig[next];
      }
      await this.store.save(cur);
    });
  }

  // ---- pause, resize, rename, update ----------------------------------------------------

  async pause(ref: string): Promise<void> {
    const rec = await this.get(ref);
    if (rec.state.status === "paused")
      throw new PierError("Conflict", `Container ${rec.id} is already paused`);
    if (rec.state.status !== "running") throw new PierError("Conflict", `Container ${rec.id} is not running`);
    pause(this.runtime, rec.id);
    rec.state.status = "paused";
    await this.store.save(rec);
  }

  async unpause(ref: string): Promise<void> {
    const rec = await this.get(ref);
    if (rec.state.status !== "paused") throw new PierError("Conflict", `Container ${rec.id} is not paused`);
    resume(this.runtime, rec.id);
    rec.state.status = "running";
    await this.store.save(rec);
  }

  /** Resizes the container's terminal (through the monitor's control fifo). */
  resize(id: string, rows: number, cols: number): void {
    writeCtl(this.files(id).ctl, `r ${rows} ${cols}\n`);
  }

  async resizeRef(ref: string, rows: number, cols: number): Promise<void> {
    const rec = await this.get(ref);
    if (rec.state.status !== "running") throw new PierError("Conflict", `Container ${rec.id} is not running`);
    this.resize(rec.id, rows, cols);
  }

  /** Closes the container's stdin (StdinOnce: the attach that owned it ended). */
  closeStdin(id: string): void {
    writeCtl(this.files(id).ctl, "c\n");
  }

  async rename(ref: string, newName: string): Promise<void> {
    const rec = await this.get(ref);
    const name = newName.startsWith("/") ? newName.slice(1) : newName;
    if (!name) throw new PierError("InvalidArgument", "Neither old nor new names may be empty");
    await this.serial(rec.id, async () => {
      await this.store.claimName(name, rec.id);
      const cur = (await this.store.load(rec.id))!;
      const old = cur.name;
      cur.name = name;
      await this.store.save(cur);
      await this.store.releaseName(old, rec.id);
      this.emit(cur, "rename");
    });
  }

  async update(ref: string, hc: Partial<HostConfig>): Promise<string[]> {
    const rec = await this.get(ref);
    return this.serial(rec.id, async () => {
      const cur = (await this.store.load(rec.id))!;
      const next: HostConfig = { ...cur.hostConfig };
      for (const [k, v] of Object.entries(hc))
        if (v !== undefined && v !== null) (next as Record<string, unknown>)[k] = v;
      const warnings = validateHostConfig(next);
      if (cur.state.status === "running" || cur.state.status === "paused") {
        const spec = buildResources(next);
        runtimeUpdate(this.runtime, cur.id, spec);
      }
      cur.hostConfig = next;
      await this.store.save(cur);
      return warnings;
    });
  }
}

// ---- helpers ----------------------------------------------------------------------------

function readFileOr(path: string, dflt: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return dflt;
  }
}

function readPidFile(path: string): number | undefined {
  try {
    const n = Number.parseInt(readFileSync(path, "utf8"), 10);
    return n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Whether `pid` runs (a zombie does not: on hosts whose init does not reap, one may linger). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One command to a monitor's control fifo; nothing when no monitor reads it. */
export function writeCtl(path: string, cmd: string): void {
  let fd: number | undefined;
  try {
    // The monitor holds the fifo open for reading, so a non-blocking open succeeds.
    fd = openSync(path, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
    writeSync(fd, cmd);
  } catch {
    // no monitor (not running): nothing to tell
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Whether the kernel OOM-killed something in the container's memory cgroup. */
function oomKilled(id: string): boolean {
  for (const p of [
    `/sys/fs/cgroup/memory/pier/${id}/memory.oom_control`,
    `/sys/fs/cgroup/pier/${id}/memory.events`,
  ]) {
    try {
      const m = /oom_kill (\d+)/.exec(readFileSync(p, "utf8"));
      if (m) return Number(m[1]) > 0;
    } catch {
      // not this hierarchy
    }
  }
  return false;
}

/** The image's config with the create request's on top, as docker merges them. */
export function mergeConfig(image: Record<string, unknown>, req: ContainerCreateRequest): ContainerConfig {
  const img = image as ContainerConfig;
  const c: ContainerConfig = {
    Hostname: req.Hostname ?? "",
    Domainname: req.Domainname ?? "",
    User: req.User || img.User || "",
    AttachStdin: req.AttachStdin ?? false,
    AttachStdout: req.AttachStdout ?? false,
    AttachStderr: req.AttachStderr ?? false,
    Tty: req.Tty ?? false,
    OpenStdin: req.OpenStdin ?? false,
    StdinOnce: req.StdinOnce ?? false,
    Image: req.Image ?? "",
    WorkingDir: req.WorkingDir || img.WorkingDir || "",
    Labels: { ...(img.Labels ?? {}), ...(req.Labels ?? {}) },
  };
  const env = new Map<string, string>();
  for (const e of [...(img.Env ?? []), ...(req.Env ?? [])]) {
    const i = e.indexOf("=");
    env.set(i < 0 ? e : e.slice(0, i), e);
  }
  c.Env = [...env.values()];
  if (req.Entrypoint !== undefined && req.Entrypoint !== null) {
    c.Entrypoint = req.Entrypoint.length === 1 && req.Entrypoint[0] === "" ? null : req.Entrypoint;
    c.Cmd = req.Cmd ?? null;
  } else {
    c.Entrypoint = img.Entrypoint ?? null;
    c.Cmd = req.Cmd && req.Cmd.length ? req.Cmd : (img.Cmd ?? null);
  }
  const ports = { ...(img.ExposedPorts ?? {}), ...(req.ExposedPorts ?? {}) };
  if (Object.keys(ports).length) c.ExposedPorts = ports;
  const vols = { ...(img.Volumes ?? {}), ...(req.Volumes ?? {}) };
  if (Object.keys(vols).length) c.Volumes = vols;
  const stop = req.StopSignal || img.StopSignal;
  if (stop) c.StopSignal = stop;
  if (req.StopTimeout !== undefined) c.StopTimeout = req.StopTimeout;
  const hc = req.Healthcheck ?? img.Healthcheck;
  if (hc) c.Healthcheck = hc;
  if (img.OnBuild) c.OnBuild = img.OnBuild;
  if (img.Shell) c.Shell = img.Shell;
  return c;
}

/** Refuses what docker refuses; returns docker's warnings for what it adjusts. */
export function validateHostConfig(hc: HostConfig): string[] {
  const w: string[] = [];
  const bad = (msg: string, hint?: string) => new PierError("InvalidArgument", msg, hint ? { hint } : {});
  const rp = hc.RestartPolicy;
  if (rp?.Name && !["no", "always", "unless-stopped", "on-failure"].includes(rp.Name)) {
    throw bad(`invalid restart policy: ${rp.Name}`, "use no, always, unless-stopped or on-failure[:N]");
  }
  if (rp?.Name && rp.Name !== "no" && hc.AutoRemove) {
    throw bad("conflicting options: cannot specify both --restart and --rm");
  }
  if (rp?.MaximumRetryCount && rp.Name !== "on-failure")
    throw bad(`invalid restart policy: maximum retry count can only be used with 'on-failure'`);
  if ((rp?.MaximumRetryCount ?? 0) < 0)
    throw bad("invalid restart policy: maximum retry count cannot be negative");
  if (hc.Memory && hc.Memory > 0 && hc.Memory < 6 * 1024 * 1024)
    throw bad("Minimum memory limit allowed is 6MB");
  if (hc.MemorySwap && hc.MemorySwap > 0 && hc.Memory && hc.MemorySwap < hc.Memory) {
    throw bad("Minimum memoryswap limit should be larger than memory limit, see usage");
  }
  if (hc.MemorySwap && hc.MemorySwap > 0 && !hc.Memory)
    throw bad("You should always set the Memory limit when using Memoryswap limit, see usage");
  const n = cpus().length;
  if (hc.NanoCpus) {
    if (hc.NanoCpus < 0 || hc.NanoCpus > n * 1e9) {
      throw bad(`range of CPUs is from 0.01 to ${n.toFixed(2)}, as there are only ${n} CPUs available`);
    }
    if (hc.CpuQuota || hc.CpuPeriod)
      throw bad("Conflicting options: Nano CPUs and CPU Period cannot both be set");
  }
  if (hc.CpuShares && hc.CpuShares < 0) throw bad("invalid CPU shares: must be positive");
  if (hc.CpuPeriod && (hc.CpuPeriod < 1000 || hc.CpuPeriod > 1_000_000))
    throw bad("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)");
  if (hc.CpuQuota && hc.CpuQuota > 0 && hc.CpuQuota < 1000)
    throw bad("CPU cfs quota can not be less than 1ms (i.e. 1000)");
  if (hc.CpusetCpus) {
    if (!/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(hc.CpusetCpus))
      throw bad(`invalid value ${hc.CpusetCpus} for cpuset cpus`);
    for (const part of hc.CpusetCpus.split(",")) {
      for (const x of part.split("-")) {
        if (Number(x) >= n)
          throw bad(`requested CPUs are not available - requested ${hc.CpusetCpus}, available: 0-${n - 1}`);
      }
    }
  }
  for (const [port, binds] of Object.entries(hc.PortBindings ?? {})) {
    const m = /^(\d+)(?:\/(tcp|udp|sctp))?$/.exec(port);
    if (!m || Number(m[1]) < 1 || Number(m[1]) > 65535) throw bad(`invalid port specification: "${port}"`);
    for (const b of binds ?? []) {
      if (b.HostPort && !/^\d+(-\d+)?$/.test(b.HostPort))
        throw bad(`invalid port specification: "${b.HostPort}"`);
      if (b.HostPort && Number(b.HostPort.split("-")[0]) > 65535)
        throw bad(`invalid port specification: "${b.HostPort}"`);
    }
  }
  if (hc.PidsLimit !== undefined && hc.PidsLimit !== null && hc.PidsLimit < -1)
    throw bad("invalid pids limit");
  for (const c of [...(hc.CapAdd ?? []), ...(hc.CapDrop ?? [])]) {
    const up = c.toUpperCase();
    if (up !== "ALL" && !/^(CAP_)?[A-Z_]+$/.test(up)) throw bad(`invalid capability: ${c}`);
  }
  return w;
}

function buildResources(hc: HostConfig) {
  const r: import("../../oci/runtime-spec.ts").Resources = {};
  if (hc.Memory) r.memory = { limit: hc.Memory, ...(hc.MemorySwap ? { swap: hc.MemorySwap } : {}) };
  const cpu: NonNullable<typeof r.cpu> = {};
  if (hc.NanoCpus) Object.assign(cpu, { period: 100_000, quota: Math.round((hc.NanoCpus * 100_000) / 1e9) });
  if (hc.CpuShares) cpu.shares = hc.CpuShares;
  if (hc.CpuQuota) cpu.quota = hc.CpuQuota;
  if (hc.CpuPeriod) cpu.period = hc.CpuPeriod;
  if (hc.CpusetCpus) cpu.cpus = hc.CpusetCpus;
  if (Object.keys(cpu).length) r.cpu = cpu;
  if (hc.PidsLimit) r.pids = { limit: hc.PidsLimit };
  return r;
}

/** The mount points as OCI mounts. */
export function ociMounts(mounts: MountPoint[]): OciMount[] {
  const sorted = [...mounts].sort(
    (a, b) => a.Destination.split("/").length - b.Destination.split("/").length,
  );
  return sorted.map((m) => {
    if (m.Type === "tmpfs") {
      const o = ["nosuid", "nodev", ...(m.Mode ? m.Mode.split(",").filter(Boolean) : [])];
      if (!m.RW) o.push("ro");
      return { destination: m.Destination, type: "tmpfs", source: "tmpfs", options: o };
    }
    const prop = m.Propagation && m.Propagation !== "" ? m.Propagation : "rprivate";
    return {
      destination: m.Destination,
      type: "bind",
      source: m.Source,
      options: ["rbind", prop, m.RW ? "rw" : "ro"],
    };
  });
}

/** -p/-P → CNI port mappings, with host port 0 or "" replaced by a free port. */
async function portMappings(rec: ContainerRecord): Promise<{
  mappings: { hostIp?: string; hostPort: number; containerPort: number; protocol: "tcp" | "udp" }[];
  bound: Record<string, { HostIp: string; HostPort: string }[]>;
}> {
  const mappings: { hostIp?: string; hostPort: number; containerPort: number; protocol: "tcp" | "udp" }[] =
    [];
  const bound: Record<string, { HostIp: string; HostPort: string }[]> = {};
  const hc = rec.hostConfig;
  const all: Record<string, { HostIp?: string; HostPort?: string }[]> = {};
  for (const [k, v] of Object.entries(hc.PortBindings ?? {})) all[k.includes("/") ? k : `${k}/tcp`] = v ?? [];
  if (hc.PublishAllPorts) {
    for (const k of Object.keys(rec.config.ExposedPorts ?? {})) {
      const key = k.includes("/") ? k : `${k}/tcp`;
      if (!all[key]?.length) all[key] = [{ HostIp: "", HostPort: "" }];
    }
  }
  for (const [key, binds] of Object.entries(all)) {
    const [p, proto = "tcp"] = key.split("/");
    if (proto !== "tcp" && proto !== "udp")
      throw new PierError("InvalidArgument", `protocol ${proto} is not supported`, {
        hint: "use tcp or udp",
      });
    for (const b of binds) {
      let hostPort = Number(b.HostPort || 0);
      if (!hostPort) hostPort = await freePort(proto);
      mappings.push({
        ...(b.HostIp ? { hostIp: b.HostIp } : {}),
        hostPort,
        containerPort: Number(p),
        protocol: proto,
      });
      (bound[key] ??= []).push({ HostIp: b.HostIp || "0.0.0.0", HostPort: String(hostPort) });
    }
  }
  return { mappings, bound };
}

async function freePort(proto: "tcp" | "udp"): Promise<number> {
  if (proto === "udp") {
    const s = createSocket("udp4");
    await new Promise<void>((r) => s.bind(0, r));
    const port = s.address().port;
    s.close();
    return port;
  }
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, () => {
      const a = s.address();
      s.close(() => (typeof a === "object" && a ? resolvePort(a.port) : reject(new Error("no port"))));
    });
  });
}

function startError(err: unknown): PierError {
  const msg = err instanceof Error ? err.message : String(err);
  if (err instanceof PierError) return err;
  // The monitor reports the runtime's words; docker's CLI maps "executable file not found" to 127.
  if (/no such file or directory|not found/i.test(msg) && /exec/i.test(msg)) {
    return new PierError("InvalidArgument", `failed to create task for container: ${msg}`);
  }
  return new PierError("Internal", msg);
}
