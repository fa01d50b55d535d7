/**
 * `pier run` / `pier create` flags and their conversion into the create request, exactly
 * as the docker CLI 28 builds it: the same fields, the same defaults (`Volumes: {}`,
 * `Dns: []`, `MemorySwappiness: -1`, `NetworkingConfig.EndpointsConfig.default`…), the
 * same JSON key order (Go's struct order, map keys sorted), so pierd sees the same bodies
 * from both clients (src/cli/run-flags.test.ts compares with recordings of docker).
 *
 * Bad values are UsageErrors (exit 125) with docker's wording:
 *   invalid argument "12x" for "-m, --memory" flag: invalid suffix: 'x'
 */
import type {
  ContainerCreateRequest,
  EndpointSettings,
  HealthConfig,
  HostConfig,
  Mount,
  PortBinding,
} from "../api/client/index.ts";
import { bool, boolOr, changed, list, str, UsageError, type FlagSpec, type Parsed } from "./args.ts";
import { kvMap, readKVFile, validateEnv, validateLabel, type EnvLookup } from "./opts/env.ts";
import {
  effectiveCaps,
  parseExtraHost,
  parseIPAddress,
  parseRestartPolicy,
  parseSecurityOpts,
  parseUlimit,
} from "./opts/host.ts";
import { parseDevice, parseMount, parseTmpfs, parseVolumeFlags } from "./opts/mounts.ts";
import { parseExpose, parsePortSpec } from "./opts/ports.ts";
import { memSwapBytes, nanoCpus, parseDuration, parseInt64, ramInBytes, ValueError } from "./opts/values.ts";

const s = (name: string, help: string, short?: string, extra: Partial<FlagSpec> = {}): FlagSpec => ({
  name,
  kind: "string",
  help,
  ...(short ? { short } : {}),
  ...extra,
});
const l = (name: string, help: string, short?: string, extra: Partial<FlagSpec> = {}): FlagSpec => ({
  name,
  kind: "list",
  help,
  ...(short ? { short } : {}),
  ...extra,
});
const b = (name: string, help: string, short?: string, extra: Partial<FlagSpec> = {}): FlagSpec => ({
  name,
  kind: "bool",
  help,
  ...(short ? { short } : {}),
  ...extra,
});

/** The flags `create` and `run` share. */
export const CREATE_FLAGS: FlagSpec[] = [
  l("add-host", "Add a custom host-to-IP mapping (host:ip)"),
  l("annotation", "Add an annotation to the container (passed through to the OCI runtime)"),
  l("attach", "Attach to STDIN, STDOUT or STDERR", "a"),
  s("blkio-weight", "Block IO (relative weight), between 10 and 1000, or 0 to disable"),
  l("cap-add", "Add Linux capabilities"),
  l("cap-drop", "Drop Linux capabilities"),
  s("cgroup-parent", "Optional parent cgroup for the container"),
  s("cgroupns", "Cgroup namespace to use (host|private)"),
  s("cidfile", "Write the container ID to the file"),
  s("cpu-period", "Limit CPU CFS (Completely Fair Scheduler) period"),
  s("cpu-quota", "Limit CPU CFS (Completely Fair Scheduler) quota"),
  s("cpu-rt-period", "Limit CPU real-time period in microseconds"),
  s("cpu-rt-runtime", "Limit CPU real-time runtime in microseconds"),
  s("cpu-shares", "CPU shares (relative weight)", "c"),
  s("cpus", "Number of CPUs"),
  s("cpuset-cpus", "CPUs in which to allow execution (0-3, 0,1)"),
  s("cpuset-mems", "MEMs in which to allow execution (0-3, 0,1)"),
  l("device", "Add a host device to the container"),
  l("device-cgroup-rule", "Add a rule to the cgroup allowed devices list"),
  l("dns", "Set custom DNS servers"),
  l("dns-option", "Set DNS options"),
  l("dns-search", "Set custom DNS search domains"),
  s("domainname", "Container NIS domain name"),
  s("entrypoint", "Overwrite the default ENTRYPOINT of the image"),
  l("env", "Set environment variables", "e"),
  l("env-file", "Read in a file of environment variables"),
  l("expose", "Expose a port or a range of ports"),
  l("group-add", "Add additional groups to join"),
  s("health-cmd", "Command to run to check health"),
  s("health-interval", "Time between running the check (ms|s|m|h) (default 0s)"),
  s("health-retries", "Consecutive failures needed to report unhealthy"),
  s(
    "health-start-interval",
    "Time between running the check during the start period (ms|s|m|h) (default 0s)",
  ),
  s(
    "health-start-period",
    "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)",
  ),
  s("health-timeout", "Maximum time to allow one check to run (ms|s|m|h) (default 0s)"),
  s("hostname", "Container host name", "h"),
  b("init", "Run an init inside the container that forwards signals and reaps processes"),
  b("interactive", "Keep STDIN open even if not attached", "i"),
  s("ip", "IPv4 address (e.g., 172.30.100.104)"),
  s("ip6", "IPv6 address (e.g., 2001:db8::33)"),
  s("ipc", "IPC mode to use"),
  s("isolation", "Container isolation technology"),
  l("label", "Set meta data on a container", "l"),
  l("label-file", "Read in a line delimited file of labels"),
  l("link", "Add link to another container"),
  s("log-driver", "Logging driver for the container (json-file)"),
  l("log-opt", "Log driver options"),
  s("mac-address", "Container MAC address (e.g., 92:d0:c6:0a:29:33)"),
  s("memory", "Memory limit", "m"),
  s("memory-reservation", "Memory soft limit"),
  s("memory-swap", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap"),
  s("memory-swappiness", "Tune container memory swappiness (0 to 100) (default -1)"),
  l("mount", "Attach a filesystem mount to the container"),
  s("name", "Assign a name to the container"),
  l("network", "Connect a container to a network", undefined, { aliases: ["net"] }),
  l("network-alias", "Add network-scoped alias for the container", undefined, { aliases: ["net-alias"] }),
  b("no-healthcheck", "Disable any container-specified HEALTHCHECK"),
  b("no-lxcfs", "Do not give the container lxcfs views of /proc (pier)"),
  b("oom-kill-disable", "Disable OOM Killer"),
  s("oom-score-adj", "Tune host's OOM preferences (-1000 to 1000)"),
  s("pid", "PID namespace to use"),
  s("pids-limit", "Tune container pids limit (set -1 for unlimited)"),
  s("platform", "Set platform if server is multi-platform capable"),
  b("privileged", "Give extended privileges to this container"),
  l("publish", "Publish a container's port(s) to the host", "p"),
  b("publish-all", "Publish all exposed ports to random ports", "P"),
  s("pull", 'Pull image before running ("always", "missing", "never") (default "missing")'),
  b("quiet", "Suppress the pull output", "q"),
  b("read-only", "Mount the container's root filesystem as read only"),
  s("restart", 'Restart policy to apply when a container exits (default "no")'),
  b("rm", "Automatically remove the container and its associated anonymous volumes when it exits"),
  s("runtime", "Runtime to use for this container"),
  l("security-opt", "Security Options"),
  s("shm-size", "Size of /dev/shm"),
  s("stop-signal", "Signal to stop the container"),
  s("stop-timeout", "Timeout (in seconds) to stop a container"),
  l("storage-opt", "Storage driver options for the container"),
  l("sysctl", "Sysctl options"),
  l("tmpfs", "Mount a tmpfs directory"),
  b("tty", "Allocate a pseudo-TTY", "t"),
  l("ulimit", "Ulimit options"),
  s("user", "Username or UID (format: <name|uid>[:<group|gid>])", "u"),
  s("userns", "User namespace to use"),
  s("uts", "UTS namespace to use"),
  l("volume", "Bind mount a volume", "v"),
  s("volume-driver", "Optional volume driver for the container"),
  l("volumes-from", "Mount volumes from the specified container(s)"),
  s("workdir", "Working directory inside the container", "w"),
];

/** `run` adds these. */
export const RUN_FLAGS: FlagSpec[] = [
  ...CREATE_FLAGS,
  b("detach", "Run container in background and print container ID", "d"),
  s("detach-keys", "Override the key sequence for detaching a container"),
  b("sig-proxy", "Proxy received signals to the process (default true)"),
];

export type PullPolicy = "missing" | "always" | "never";

/** What the conversion needs from outside: where relative paths start, our environment. */
export interface FlagContext {
  cwd: string;
  env: EnvLookup;
  /** `[rows, cols]` of our terminal when stdout is one (ConsoleSize with -t). */
  consoleSize?: [number, number] | undefined;
}

export interface ContainerOptions {
  image: string;
  body: ContainerCreateRequest;
  name: string | undefined;
  platform: string | undefined;
  pull: PullPolicy;
  quiet: boolean;
  cidfile: string | undefined;
  /** Which streams were asked for with -a (empty: the default). */
  attach: string[];
}

/** How a flag is named in errors: `"-m, --memory"`. */
function display(specs: FlagSpec[], name: string): string {
  const spec = specs.find((x) => x.name === name);
  return spec?.short ? `-${spec.short}, --${name}` : `--${name}`;
}

/** Runs `parse` on a flag's value, turning its ValueError into docker's flag error. */
function parseFlag<T>(command: string, name: string, value: string, parse: (v: string) => T): T {
  try {
    return parse(value);
  } catch (e) {
    if (e instanceof ValueError) {
      throw new UsageError(
        `invalid argument "${value}" for "${display(RUN_FLAGS, name)}" flag: ${e.message}`,
        command,
      );
    }
    throw e;
  }
}

/** A problem found after the flags were read (docker prints "docker: MSG"). */
function conflict(command: string, message: string): UsageError {
  return new UsageError(message, command);
}

const sorted = <T>(o: Record<string, T>): Record<string, T> =>
  Object.fromEntries(
    Object.keys(o)
      .sort()
      .map((k) => [k, o[k] as T]),
  );

const orNull = <T>(a: T[]): T[] | null => (a.length > 0 ? a : null);

/** An EndpointSettings as docker 28 marshals one (every field, in Go's order). */
export function endpointSettings(over: Partial<EndpointSettings> = {}): EndpointSettings {
  return {
    IPAMConfig: over.IPAMConfig ?? null,
    Links: over.Links ?? null,
    Aliases: over.Aliases ?? null,
    MacAddress: over.MacAddress ?? "",
    DriverOpts: over.DriverOpts ?? null,
    GwPriority: 0,
    NetworkID: "",
    EndpointID: "",
    Gateway: "",
    IPAddress: "",
    IPPrefixLen: 0,
    IPv6Gateway: "",
    GlobalIPv6Address: "",
    GlobalIPv6PrefixLen: 0,
    DNSNames: null,
  };
}

const BUILTIN_NETWORKS = new Set(["default", "bridge", "host", "none"]);
export const isUserDefinedNetwork = (mode: string): boolean =>
  !BUILTIN_NETWORKS.has(mode) && !mode.startsWith("container:");

/**
 * The create request (and the rest of what run/create need) from the parsed flags;
 * `p.positionals` is `IMAGE [COMMAND] [ARG...]`.
 */
export function containerOptions(p: Parsed, ctx: FlagContext, command: string): ContainerOptions {
  const image = p.positionals[0];
  if (image === undefined) {
    throw new UsageError(`"pier ${command.replace(/^pier /, "")}" requires at least 1 argument.`, command);
  }
  const cmd = p.positionals.slice(1);
  const val = <T>(name: string, parse: (v: string) => T): T | undefined => {
    const v = str(p, name);
    return v === undefined ? undefined : parseFlag(command, name, v, parse);
  };
  const each = <T>(name: string, parse: (v: string) => T): T[] =>
    list(p, name).map((v) => parseFlag(command, name, v, parse));
  const plain = <T>(parse: () => T): T => {
    try {
      return parse();
    } catch (e) {
      if (e instanceof ValueError) throw conflict(command, e.message);
      throw e;
    }
  };

  // ---- attach, stdin, tty -------------------------------------------------------------
  const attach = each("attach", (v) => {
    const x = v.toLowerCase();
    if (!["stdin", "stdout", "stderr"].includes(x)) {
      throw new ValueError("valid streams are STDIN, STDOUT and STDERR");
    }
    return x;
  });
  const stdin = bool(p, "interactive");
  let attachStdin = attach.includes("stdin");
  let attachStdout = attach.includes("stdout");
  let attachStderr = attach.includes("stderr");
  if (attach.length === 0) {
    attachStdout = true;
    attachStderr = true;
    if (stdin) attachStdin = true;
  }
  const tty = bool(p, "tty");

  // ---- environment, labels ------------------------------------------------------------
  const env: string[] = [];
  for (const f of list(p, "env-file")) env.push(...plain(() => readKVFile(f, ctx.env)));
  env.push(...each("env", (v) => validateEnv(v, ctx.env)));
  const labelList: string[] = [];
  for (const f of list(p, "label-file")) labelList.push(...plain(() => readKVFile(f, undefined)));
  labelList.push(...each("label", validateLabel));
  const labels = sorted(kvMap(labelList));

  // ---- ports ----------------------------------------------------------------------------
  const exposed: Record<string, Record<string, never>> = {};
  const bindings: Record<string, PortBinding[]> = {};
  for (const spec of list(p, "publish")) {
    for (const m of plain(() => parsePortSpec(spec))) {
      exposed[m.port] = {};
      (bindings[m.port] ??= []).push(m.binding);
    }
  }
  for (const e of list(p, "expose")) for (const port of plain(() => parseExpose(e))) exposed[port] = {};

  // ---- storage --------------------------------------------------------------------------
  const vols = plain(() => parseVolumeFlags(list(p, "volume"), ctx.cwd));
  const volumes: Record<string, Record<string, never>> = {};
  for (const v of vols.volumes) volumes[v] = {};
  const mounts: Mount[] = each("mount", (v) => parseMount(v, ctx.cwd));
  const tmpfs: Record<string, string> = {};
  for (const t of list(p, "tmpfs")) {
    const [path, opts] = parseTmpfs(t);
    tmpfs[path] = opts;
  }
  const devices = list(p, "device").map((d) => plain(() => parseDevice(d)));

  // ---- health ---------------------------------------------------------------------------
  const dur = (name: string) => val(name, parseDuration) ?? 0;
  const interval = dur("health-interval");
  const timeout = dur("health-timeout");
  const startPeriod = dur("health-start-period");
  const startInterval = dur("health-start-interval");
  const retries = val("health-retries", parseInt64) ?? 0;
  const healthCmd = str(p, "health-cmd") ?? "";
  const haveHealth =
    healthCmd !== "" ||
    interval !== 0 ||
    timeout !== 0 ||
    startPeriod !== 0 ||
    retries !== 0 ||
    startInterval !== 0;
  let health: HealthConfig | undefined;
  if (bool(p, "no-healthcheck")) {
    if (haveHealth) throw conflict(command, "--no-healthcheck conflicts with --health-* options");
    health = { Test: ["NONE"] };
  } else if (haveHealth) {
    if (interval < 0) throw conflict(command, "--health-interval cannot be negative");
    if (timeout < 0) throw conflict(command, "--health-timeout cannot be negative");
    if (retries < 0) throw conflict(command, "--health-retries cannot be negative");
    if (startPeriod < 0) throw conflict(command, "--health-start-period cannot be negative");
    if (startInterval < 0) throw conflict(command, "--health-start-interval cannot be negative");
    health = {};
    if (healthCmd !== "") health.Test = ["CMD-SHELL", healthCmd];
    if (interval) health.Interval = interval;
    if (timeout) health.Timeout = timeout;
    if (startPeriod) health.StartPeriod = startPeriod;
    if (startInterval) health.StartInterval = startInterval;
    if (retries) health.Retries = retries;
  }

  // ---- resources -------------------------------------------------------------------------
  const int = (name: string) => val(name, parseInt64) ?? 0;
  const memory = val("memory", ramInBytes) ?? 0;
  const memorySwap = val("memory-swap", memSwapBytes) ?? 0;
  const memoryReservation = val("memory-reservation", ramInBytes) ?? 0;
  const shmSize = val("shm-size", ramInBytes) ?? 0;
  const cpus = val("cpus", nanoCpus) ?? 0;
  const swappiness = val("memory-swappiness", parseInt64) ?? -1;
  if (swappiness !== -1 && (swappiness < 0 || swappiness > 100)) {
    throw conflict(command, `invalid value: ${swappiness}. Valid memory swappiness range is 0-100`);
  }

  // ---- restart, pull, security ---------------------------------------------------------
  const restart = plain(() => parseRestartPolicy(str(p, "restart") ?? "no"));
  const autoRemove = bool(p, "rm");
  if (autoRemove && restart.Name !== "" && restart.Name !== "no") {
    throw conflict(command, "conflicting options: cannot specify both --restart and --rm");
  }
  const pull = (str(p, "pull") ?? "missing") as PullPolicy;
  if (!["missing", "always", "never"].includes(pull)) {
    throw conflict(command, `invalid pull option: '${pull}': must be one of "always", "missing" or "never"`);
  }
  const security = plain(() => parseSecurityOpts(list(p, "security-opt")));
  const caps = effectiveCaps(list(p, "cap-add"), list(p, "cap-drop"));

  // ---- networks --------------------------------------------------------------------------
  const networks = list(p, "network");
  const aliases = list(p, "network-alias");
  const ipv4 = str(p, "ip") ?? "";
  const ipv6 = str(p, "ip6") ?? "";
  const links = list(p, "link");
  const endpoints: Record<string, EndpointSettings> = {};
  const endpointFor = (target: string, first: boolean): EndpointSettings | undefined => {
    if (target.trim() === "") throw conflict(command, "no name set for network");
    const user = isUserDefinedNetwork(target);
    const epAliases = first ? aliases : [];
    const epLinks = first && user ? links : [];
    if (!user && epAliases.length > 0) {
      throw conflict(command, "network-scoped aliases are only supported for user-defined networks");
    }
    const over: Partial<EndpointSettings> = {};
    if (epAliases.length > 0) over.Aliases = [...epAliases];
    if (epLinks.length > 0) over.Links = [...epLinks];
    if (first && (ipv4 || ipv6)) {
      over.IPAMConfig = { ...(ipv4 ? { IPv4Address: ipv4 } : {}), ...(ipv6 ? { IPv6Address: ipv6 } : {}) };
    }
    return Object.keys(over).length > 0 ? endpointSettings(over) : undefined;
  };
  if (networks.length === 0) {
    endpoints.default = endpointFor("default", true) ?? endpointSettings();
  }
  let userDefined = false;
  let builtin = false;
  networks.forEach((n, i) => {
    if (isUserDefinedNetwork(n)) userDefined = true;
    else builtin = true;
    if (endpoints[n]) throw conflict(command, `network "${n}" is specified multiple times`);
    const ep = endpointFor(n, i === 0);
    if (i === 0 && networks.length === 1 && ep === undefined) return;
    endpoints[n] = ep ?? endpointSettings();
  });
  if (userDefined && builtin) {
    throw conflict(
      command,
      "conflicting options: cannot attach both user-defined and non-user-defined network-modes",
    );
  }
  const networkMode = networks[0] ?? "default";

  // ---- entrypoint, annotations, log ------------------------------------------------------
  const entrypoint = changed(p, "entrypoint") ? [str(p, "entrypoint") ?? ""] : null;
  const annotations = kvMap(list(p, "annotation"));
  if (bool(p, "no-lxcfs")) annotations["io.pier.lxcfs"] = "false";
  const ulimits = each("ulimit", parseUlimit);
  const extraHosts = each("add-host", parseExtraHost);
  const dns = each("dns", parseIPAddress);
  const stopTimeout = val("stop-timeout", parseInt64);
  const stopSignal = str(p, "stop-signal");
  const init = changed(p, "init") ? bool(p, "init") : undefined;

  const hostConfig: HostConfig = {
    Binds: orNull(vols.binds),
    ContainerIDFile: str(p, "cidfile") ?? "",
    LogConfig: { Type: str(p, "log-driver") ?? "", Config: sorted(kvMap(list(p, "log-opt"))) },
    NetworkMode: networkMode,
    PortBindings: sorted(bindings),
    RestartPolicy: restart,
    AutoRemove: autoRemove,
    VolumeDriver: str(p, "volume-driver") ?? "",
    VolumesFrom: orNull(list(p, "volumes-from")),
    ConsoleSize: tty && ctx.consoleSize ? ctx.consoleSize : [0, 0],
    ...(Object.keys(annotations).length > 0 ? { Annotations: sorted(annotations) } : {}),
    CapAdd: caps.add,
    CapDrop: caps.drop,
    CgroupnsMode: (str(p, "cgroupns") ?? "") as HostConfig["CgroupnsMode"] & string,
    Dns: dns,
    DnsOptions: list(p, "dns-option"),
    DnsSearch: list(p, "dns-search"),
    ExtraHosts: orNull(extraHosts),
    GroupAdd: orNull(list(p, "group-add")),
    IpcMode: str(p, "ipc") ?? "",
    Cgroup: "",
    Links: orNull(links),
    OomScoreAdj: int("oom-score-adj"),
    PidMode: str(p, "pid") ?? "",
    Privileged: bool(p, "privileged"),
    PublishAllPorts: bool(p, "publish-all"),
    ReadonlyRootfs: bool(p, "read-only"),
    // Given at all → a list (docker filters systempaths=unconfined out of a non-nil slice).
    SecurityOpt: changed(p, "security-opt") ? security.opts : null,
    ...(list(p, "storage-opt").length > 0 ? { StorageOpt: sorted(kvMap(list(p, "storage-opt"))) } : {}),
    ...(Object.keys(tmpfs).length > 0 ? { Tmpfs: sorted(tmpfs) } : {}),
    UTSMode: str(p, "uts") ?? "",
    UsernsMode: str(p, "userns") ?? "",
    ShmSize: shmSize,
    ...(list(p, "sysctl").length > 0 ? { Sysctls: sorted(kvMap(list(p, "sysctl"))) } : {}),
    ...(str(p, "runtime") ? { Runtime: str(p, "runtime")! } : {}),
    Isolation: (str(p, "isolation") ?? "") as HostConfig["Isolation"] & string,
    CpuShares: int("cpu-shares"),
    Memory: memory,
    NanoCpus: cpus,
    CgroupParent: str(p, "cgroup-parent") ?? "",
    BlkioWeight: int("blkio-weight"),
    BlkioWeightDevice: [],
    BlkioDeviceReadBps: [],
    BlkioDeviceWriteBps: [],
    BlkioDeviceReadIOps: [],
    BlkioDeviceWriteIOps: [],
    CpuPeriod: int("cpu-period"),
    CpuQuota: int("cpu-quota"),
    CpuRealtimePeriod: int("cpu-rt-period"),
    CpuRealtimeRuntime: int("cpu-rt-runtime"),
    CpusetCpus: str(p, "cpuset-cpus") ?? "",
    CpusetMems: str(p, "cpuset-mems") ?? "",
    Devices: devices,
    DeviceCgroupRules: orNull(list(p, "device-cgroup-rule")),
    DeviceRequests: null,
    MemoryReservation: memoryReservation,
    MemorySwap: memorySwap,
    MemorySwappiness: swappiness,
    OomKillDisable: bool(p, "oom-kill-disable"),
    PidsLimit: int("pids-limit"),
    Ulimits: ulimits,
    CpuCount: 0,
    CpuPercent: 0,
    IOMaximumIOps: 0,
    IOMaximumBandwidth: 0,
    ...(mounts.length > 0 ? { Mounts: mounts } : {}),
    MaskedPaths: security.unconfinedPaths ? [] : null,
    ReadonlyPaths: security.unconfinedPaths ? [] : null,
    ...(init === undefined ? {} : { Init: init }),
  };

  const body: ContainerCreateRequest = {
    Hostname: str(p, "hostname") ?? "",
    Domainname: str(p, "domainname") ?? "",
    User: str(p, "user") ?? "",
    AttachStdin: attachStdin,
    AttachStdout: attachStdout,
    AttachStderr: attachStderr,
    ...(Object.keys(exposed).length > 0 ? { ExposedPorts: sorted(exposed) } : {}),
    Tty: tty,
    OpenStdin: stdin,
    StdinOnce: stdin && attachStdin,
    Env: orNull(env),
    Cmd: orNull(cmd),
    ...(health ? { Healthcheck: health } : {}),
    Image: image,
    Volumes: sorted(volumes),
    WorkingDir: str(p, "workdir") ?? "",
    Entrypoint: entrypoint,
    ...(str(p, "mac-address") ? { MacAddress: str(p, "mac-address")! } : {}),
    OnBuild: null,
    Labels: labels,
    ...(stopSignal ? { StopSignal: stopSignal } : {}),
    ...(stopTimeout !== undefined ? { StopTimeout: stopTimeout } : {}),
    HostConfig: hostConfig,
    NetworkingConfig: { EndpointsConfig: endpoints },
  };
  return {
    image,
    body,
    name: str(p, "name"),
    platform: str(p, "platform"),
    pull,
    quiet: bool(p, "quiet"),
    cidfile: str(p, "cidfile"),
    attach,
  };
}

/** The run-only flags. */
export interface RunOnly {
  detach: boolean;
  detachKeys: string | undefined;
  sigProxy: boolean;
}

export function runOnly(p: Parsed): RunOnly {
  return {
    detach: bool(p, "detach"),
    detachKeys: str(p, "detach-keys"),
    sigProxy: boolOr(p, "sig-proxy", true),
  };
}
