/**
 * Docker Engine API 1.43 wire shapes for containers, exec, volumes, networks and system
 * (the JSON bodies), shared by pierd's server and the pier CLI. Field names and nesting are
 * docker's (moby `api/types`); request fields are optional as docker's clients may leave
 * them out, response fields are required where docker always sends them (often as `null`).
 *
 * pier's own additions are at the end and marked as extensions: `ContainerExplain`
 * (`GET /containers/{id}/explain`) and the leak check (`GET /pier/system/check`,
 * `POST /pier/system/prune`).
 */
import type { ImageSummary } from "./types.ts";

// ---- ports, mounts, small shared records --------------------------------------------------

/** `"80/tcp"`, `"53/udp"`, `"9000/sctp"`: a container port and its protocol. */
export type PortProto = string;

/** Ports a container exposes: `{"80/tcp": {}}` (the value is always an empty object). */
export type PortSet = Record<PortProto, Record<string, never>>;

/** One host binding of a container port. Empty strings mean "any address" / "any port". */
export interface PortBinding {
  HostIp: string;
  HostPort: string;
}

/** Container port → host bindings (`null` in inspect for an exposed but unpublished port). */
export type PortMap = Record<PortProto, PortBinding[] | null>;

/** A port as `GET /containers/json` lists it. */
export interface Port {
  /** Host address; absent when the port is not published. */
  IP?: string;
  PrivatePort: number;
  PublicPort?: number;
  Type: "tcp" | "udp" | "sctp";
}

export type MountType = "bind" | "volume" | "tmpfs" | "npipe" | "cluster";

/** `HostConfig.Mounts[]`: what `--mount` produces. */
export interface Mount {
  Target: string;
  Source?: string;
  Type: MountType;
  ReadOnly?: boolean;
  Consistency?: "default" | "consistent" | "cached" | "delegated";
  BindOptions?: {
    Propagation?: "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave";
    NonRecursive?: boolean;
    CreateMountpoint?: boolean;
  };
  VolumeOptions?: {
    NoCopy?: boolean;
    Labels?: Record<string, string>;
    /** API 1.45+. */
    Subpath?: string;
    DriverConfig?: { Name?: string; Options?: Record<string, string> };
  };
  TmpfsOptions?: {
    SizeBytes?: number;
    Mode?: number;
  };
}

/** A mount as inspect and ps report it. */
export interface MountPoint {
  Type: MountType;
  /** The volume's name (volumes only). */
  Name?: string;
  Source: string;
  Destination: string;
  /** The volume driver (volumes only). */
  Driver?: string;
  /** The option string given, e.g. "ro", "z" or "". */
  Mode: string;
  RW: boolean;
  Propagation: string;
}

export interface RestartPolicy {
  Name: "" | "no" | "always" | "unless-stopped" | "on-failure";
  MaximumRetryCount?: number;
}

export interface LogConfig {
  Type: string;
  Config?: Record<string, string>;
}

export interface Ulimit {
  Name: string;
  Soft: number;
  Hard: number;
}

export interface DeviceMapping {
  PathOnHost: string;
  PathInContainer: string;
  CgroupPermissions: string;
}

export interface DeviceRequest {
  Driver?: string;
  Count?: number;
  DeviceIDs?: string[] | null;
  Capabilities?: string[][] | null;
  Options?: Record<string, string> | null;
}

export interface ThrottleDevice {
  Path: string;
  Rate: number;
}

export interface WeightDevice {
  Path: string;
  Weight: number;
}

export interface HealthConfig {
  /** `[]` inherit, `["NONE"]` disable, `["CMD", args...]`, `["CMD-SHELL", command]`. */
  Test?: string[];
  /** Nanoseconds; 0 means inherit. */
  Interval?: number;
  Timeout?: number;
  Retries?: number;
  StartPeriod?: number;
  StartInterval?: number;
}

// ---- create: Config, HostConfig, NetworkingConfig -----------------------------------------

/** `Config` of a create request and of inspect (the image's config merged in). */
export interface ContainerConfig {
  Hostname?: string;
  Domainname?: string;
  User?: string;
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  ExposedPorts?: PortSet | null;
  Tty?: boolean;
  OpenStdin?: boolean;
  StdinOnce?: boolean;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Healthcheck?: HealthConfig;
  ArgsEscaped?: boolean;
  Image?: string;
  Volumes?: Record<string, Record<string, never>> | null;
  WorkingDir?: string;
  Entrypoint?: string[] | null;
  NetworkDisabled?: boolean;
  MacAddress?: string;
  OnBuild?: string[] | null;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  /** Seconds. */
  StopTimeout?: number;
  Shell?: string[] | null;
}

/** The cgroup limits, shared by HostConfig and `POST /containers/{id}/update`. */
export interface Resources {
  CpuShares?: number;
  /** Bytes; 0 is unlimited. */
  Memory?: number;
  /** 10^-9 CPUs (`--cpus 1.5` → 1500000000). */
  NanoCpus?: number;
  CgroupParent?: string;
  BlkioWeight?: number;
  BlkioWeightDevice?: WeightDevice[] | null;
  BlkioDeviceReadBps?: ThrottleDevice[] | null;
  BlkioDeviceWriteBps?: ThrottleDevice[] | null;
  BlkioDeviceReadIOps?: ThrottleDevice[] | null;
  BlkioDeviceWriteIOps?: ThrottleDevice[] | null;
  /** Microseconds. */
  CpuPeriod?: number;
  /** Microseconds per period. */
  CpuQuota?: number;
  CpuRealtimePeriod?: number;
  CpuRealtimeRuntime?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  Devices?: DeviceMapping[] | null;
  DeviceCgroupRules?: string[] | null;
  DeviceRequests?: DeviceRequest[] | null;
  KernelMemoryTCP?: number;
  MemoryReservation?: number;
  /** Memory + swap, bytes; -1 is unlimited swap. */
  MemorySwap?: number;
  MemorySwappiness?: number | null;
  OomKillDisable?: boolean | null;
  /** 0 or -1 is unlimited; null leaves it unchanged (update). */
  PidsLimit?: number | null;
  Ulimits?: Ulimit[] | null;
  CpuCount?: number;
  CpuPercent?: number;
  IOMaximumIOps?: number;
  IOMaximumBandwidth?: number;
}

/** `HostConfig` of a create request and of inspect. */
export interface HostConfig extends Resources {
  /** `host:container[:ro|rw|z|Z|…]`, `volume:container[:opts]`. */
  Binds?: string[] | null;
  ContainerIDFile?: string;
  LogConfig?: LogConfig;
  /** "default", "bridge", "host", "none", "container:<name|id>", or a network's name. */
  NetworkMode?: string;
  PortBindings?: PortMap | null;
  RestartPolicy?: RestartPolicy;
  AutoRemove?: boolean;
  VolumeDriver?: string;
  VolumesFrom?: string[] | null;
  Mounts?: Mount[];
  /** `[height, width]` of the terminal at create time. */
  ConsoleSize?: [number, number];
  /** Free-form annotations; pier reads `io.pier.lxcfs: "false"` (from `--no-lxcfs`). */
  Annotations?: Record<string, string>;
  CapAdd?: string[] | null;
  CapDrop?: string[] | null;
  CgroupnsMode?: "" | "private" | "host";
  Dns?: string[] | null;
  DnsOptions?: string[] | null;
  DnsSearch?: string[] | null;
  /** `name:ip` entries for /etc/hosts. */
  ExtraHosts?: string[] | null;
  GroupAdd?: string[] | null;
  IpcMode?: string;
  Cgroup?: string;
  Links?: string[] | null;
  OomScoreAdj?: number;
  PidMode?: string;
  Privileged?: boolean;
  PublishAllPorts?: boolean;
  ReadonlyRootfs?: boolean;
  SecurityOpt?: string[] | null;
  StorageOpt?: Record<string, string>;
  /** Container path → mount options (`--tmpfs /run:size=64m`). */
  Tmpfs?: Record<string, string>;
  UTSMode?: string;
  UsernsMode?: string;
  ShmSize?: number;
  Sysctls?: Record<string, string>;
  Runtime?: string;
  Isolation?: "" | "default" | "process" | "hyperv";
  MaskedPaths?: string[] | null;
  ReadonlyPaths?: string[] | null;
  /** Run an init (pid 1 reaper) in the container. */
  Init?: boolean | null;
}

export interface EndpointIPAMConfig {
  IPv4Address?: string;
  IPv6Address?: string;
  LinkLocalIPs?: string[] | null;
}

/** A container's endpoint on one network: the create request's part and inspect's. */
export interface EndpointSettings {
  IPAMConfig?: EndpointIPAMConfig | null;
  Links?: string[] | null;
  Aliases?: string[] | null;
  NetworkID?: string;
  EndpointID?: string;
  Gateway?: string;
  IPAddress?: string;
  IPPrefixLen?: number;
  IPv6Gateway?: string;
  GlobalIPv6Address?: string;
  GlobalIPv6PrefixLen?: number;
  MacAddress?: string;
  DriverOpts?: Record<string, string> | null;
  /** Sent by docker CLI 28 (API 1.48+); a 1.43 server ignores it. */
  GwPriority?: number;
  /** Sent by docker CLI 28 (API 1.44+); a 1.43 server ignores it. */
  DNSNames?: string[] | null;
}

export interface NetworkingConfig {
  /** Network name → settings. The docker CLI sends `{"default": {}}` without --network. */
  EndpointsConfig?: Record<string, EndpointSettings>;
}

/** `POST /containers/create?name=&platform=`. */
export interface ContainerCreateRequest extends ContainerConfig {
  HostConfig?: HostConfig;
  NetworkingConfig?: NetworkingConfig;
}

/** 201 from `POST /containers/create`. */
export interface ContainerCreateResponse {
  Id: string;
  Warnings: string[];
}

// ---- list and inspect ----------------------------------------------------------------------

export type ContainerStatus =
  "created" | "running" | "paused" | "restarting" | "removing" | "exited" | "dead";

/** One entry of `GET /containers/json`. */
export interface ContainerSummary {
  Id: string;
  /** With a leading slash: `["/web"]`. */
  Names: string[];
  /** As the user gave it (`busybox`), or the image ID if the name has moved on. */
  Image: string;
  ImageID: string;
  /** The command line joined by spaces. */
  Command: string;
  /** Unix seconds. */
  Created: number;
  Ports: Port[];
  /** Only with `size=1`. */
  SizeRw?: number;
  SizeRootFs?: number;
  Labels: Record<string, string>;
  State: ContainerStatus;
  /** "Up 2 seconds", "Exited (0) 3 minutes ago", "Created", "Up 5 minutes (healthy)". */
  Status: string;
  HostConfig: { NetworkMode: string; Annotations?: Record<string, string> };
  NetworkSettings: { Networks: Record<string, EndpointSettings> };
  Mounts: MountPoint[];
}

export interface HealthLogEntry {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

export interface Health {
  Status: "none" | "starting" | "healthy" | "unhealthy";
  FailingStreak: number;
  Log: HealthLogEntry[];
}

export interface ContainerState {
  Status: ContainerStatus;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  /** Host pid of the container's process 1; 0 when not running. */
  Pid: number;
  ExitCode: number;
  Error: string;
  /** RFC 3339 with nanoseconds; "0001-01-01T00:00:00Z" when never started. */
  StartedAt: string;
  FinishedAt: string;
  Health?: Health;
}

export interface GraphDriverData {
  Name: string;
  Data: {
    LowerDir?: string;
    UpperDir?: string;
    MergedDir?: string;
    WorkDir?: string;
    [key: string]: string | undefined;
  } | null;
}

export interface NetworkSettings {
  Bridge: string;
  SandboxID: string;
  HairpinMode: boolean;
  LinkLocalIPv6Address: string;
  LinkLocalIPv6PrefixLen: number;
  Ports: PortMap;
  SandboxKey: string;
  SecondaryIPAddresses: unknown[] | null;
  SecondaryIPv6Addresses: unknown[] | null;
  EndpointID: string;
  Gateway: string;
  GlobalIPv6Address: string;
  GlobalIPv6PrefixLen: number;
  IPAddress: string;
  IPPrefixLen: number;
  IPv6Gateway: string;
  MacAddress: string;
  Networks: Record<string, EndpointSettings>;
}

/** `GET /containers/{id}/json` (`?size=1` adds SizeRw and SizeRootFs). */
export interface ContainerInspect {
  Id: string;
  /** RFC 3339 with nanoseconds. */
  Created: string;
  Path: string;
  Args: string[];
  State: ContainerState;
  /** The image ID, `sha256:…`. */
  Image: string;
  ResolvConfPath: string;
  HostnamePath: string;
  HostsPath: string;
  LogPath: string;
  /** With a leading slash: "/web". */
  Name: string;
  RestartCount: number;
  Driver: string;
  Platform: string;
  MountLabel: string;
  ProcessLabel: string;
  AppArmorProfile: string;
  ExecIDs: string[] | null;
  HostConfig: HostConfig;
  GraphDriver: GraphDriverData;
  SizeRw?: number;
  SizeRootFs?: number;
  Mounts: MountPoint[];
  Config: ContainerConfig;
  NetworkSettings: NetworkSettings;
}

// ---- lifecycle answers -------------------------------------------------------------------

/** Body of `POST /containers/{id}/wait?condition=not-running|next-exit|removed`. */
export interface ContainerWaitResponse {
  StatusCode: number;
  Error?: { Message: string } | null;
}

/** `GET /containers/{id}/top?ps_args=`. */
export interface ContainerTopResponse {
  Titles: string[];
  Processes: string[][];
}

/** `POST /containers/{id}/update`: the resources plus the restart policy. */
export interface ContainerUpdateRequest extends Resources {
  RestartPolicy?: RestartPolicy;
}

export interface ContainerUpdateResponse {
  Warnings: string[] | null;
}

/** One entry of `GET /containers/{id}/changes`: Kind 0 modified, 1 added, 2 deleted. */
export interface ChangesItem {
  Path: string;
  Kind: 0 | 1 | 2;
}

/** `X-Docker-Container-Path-Stat` (base64 JSON) of `HEAD|GET /containers/{id}/archive`. */
export interface ContainerPathStat {
  name: string;
  size: number;
  /** Go's os.FileMode bits (directory = 1<<31, symlink = 1<<27) | permissions. */
  mode: number;
  /** RFC 3339. */
  mtime: string;
  linkTarget: string;
}

/** `POST /commit?container=&repo=&tag=&comment=&author=&pause=&changes=` (and 201's body). */
export interface IdResponse {
  Id: string;
}

export interface ContainerPruneResponse {
  ContainersDeleted: string[] | null;
  SpaceReclaimed: number;
}

// ---- exec ----------------------------------------------------------------------------------

/** `POST /containers/{id}/exec`. */
export interface ExecCreateRequest {
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  /** `[height, width]`. */
  ConsoleSize?: [number, number] | null;
  /** Sent by the docker CLI (true for `exec -d`); the start request decides. */
  Detach?: boolean;
  DetachKeys?: string;
  Tty?: boolean;
  Env?: string[] | null;
  Cmd: string[];
  Privileged?: boolean;
  User?: string;
  WorkingDir?: string;
}

/** Body of `POST /exec/{id}/start` (hijacked unless Detach). */
export interface ExecStartRequest {
  Detach?: boolean;
  Tty?: boolean;
  ConsoleSize?: [number, number] | null;
}

/** `GET /exec/{id}/json`. ExitCode is null while running. */
export interface ExecInspect {
  CanRemove: boolean;
  DetachKeys: string;
  ID: string;
  Running: boolean;
  ExitCode: number | null;
  ProcessConfig: {
    privileged: boolean;
    user: string;
    tty: boolean;
    entrypoint: string;
    arguments: string[];
  };
  OpenStdin: boolean;
  OpenStderr: boolean;
  OpenStdout: boolean;
  ContainerID: string;
  Pid: number;
}

// ---- stats -------------------------------------------------------------------------------

export interface CpuUsage {
  /** Nanoseconds. */
  total_usage: number;
  percpu_usage?: number[];
  usage_in_kernelmode: number;
  usage_in_usermode: number;
}

export interface CpuStats {
  cpu_usage: CpuUsage;
  /** Nanoseconds of host CPU time (all CPUs), from /proc/stat. */
  system_cpu_usage?: number;
  online_cpus?: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
}

export interface MemoryStats {
  usage?: number;
  max_usage?: number;
  /** cgroup memory.stat counters (cache, rss, inactive_file, … on v1; file, anon, … on v2). */
  stats?: Record<string, number>;
  failcnt?: number;
  limit?: number;
}

export interface BlkioStatEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

export interface BlkioStats {
  io_service_bytes_recursive: BlkioStatEntry[] | null;
  io_serviced_recursive: BlkioStatEntry[] | null;
  io_queue_recursive: BlkioStatEntry[] | null;
  io_service_time_recursive: BlkioStatEntry[] | null;
  io_wait_time_recursive: BlkioStatEntry[] | null;
  io_merged_recursive: BlkioStatEntry[] | null;
  io_time_recursive: BlkioStatEntry[] | null;
  sectors_recursive: BlkioStatEntry[] | null;
}

export interface NetworkStats {
  rx_bytes: number;
  rx_packets: number;
  rx_errors: number;
  rx_dropped: number;
  tx_bytes: number;
  tx_packets: number;
  tx_errors: number;
  tx_dropped: number;
}

/** One object of `GET /containers/{id}/stats` (a JSON stream unless `stream=0`). */
export interface ContainerStats {
  /** RFC 3339 time of this sample; preread the previous one's. */
  read: string;
  preread: string;
  pids_stats: { current?: number; limit?: number };
  blkio_stats: BlkioStats;
  num_procs: number;
  storage_stats: Record<string, number>;
  cpu_stats: CpuStats;
  precpu_stats: CpuStats;
  memory_stats: MemoryStats;
  /** "/web". */
  name: string;
  id: string;
  networks?: Record<string, NetworkStats>;
}

// ---- volumes -----------------------------------------------------------------------------

export interface Volume {
  Name: string;
  Driver: string;
  Mountpoint: string;
  CreatedAt?: string;
  Status?: Record<string, unknown>;
  Labels: Record<string, string> | null;
  Scope: "local" | "global";
  Options: Record<string, string> | null;
  /** Only from `GET /system/df`; -1 when not computed. */
  UsageData?: { Size: number; RefCount: number } | null;
}

/** `POST /volumes/create`. */
export interface VolumeCreateRequest {
  Name?: string;
  Driver?: string;
  DriverOpts?: Record<string, string>;
  Labels?: Record<string, string>;
}

/** `GET /volumes?filters=`. */
export interface VolumeListResponse {
  Volumes: Volume[] | null;
  Warnings: string[] | null;
}

export interface VolumePruneResponse {
  VolumesDeleted: string[] | null;
  SpaceReclaimed: number;
}

// ---- networks ----------------------------------------------------------------------------

export interface IPAMConfig {
  Subnet?: string;
  IPRange?: string;
  Gateway?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

export interface IPAM {
  Driver?: string;
  Config?: IPAMConfig[] | null;
  Options?: Record<string, string> | null;
}

/** A container attached to a network, as the network's inspect lists it. */
export interface NetworkContainer {
  Name: string;
  EndpointID: string;
  MacAddress: string;
  /** CIDR: "172.17.0.2/16". */
  IPv4Address: string;
  IPv6Address: string;
}

/** `GET /networks/{id}` and each entry of `GET /networks`. */
export interface Network {
  Name: string;
  Id: string;
  Created: string;
  Scope: "local" | "global" | "swarm";
  Driver: string;
  EnableIPv6: boolean;
  IPAM: IPAM;
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Containers: Record<string, NetworkContainer>;
  Options: Record<string, string>;
  Labels: Record<string, string>;
}

/** `POST /networks/create`. */
export interface NetworkCreateRequest {
  Name: string;
  CheckDuplicate?: boolean;
  Driver?: string;
  Scope?: string;
  Internal?: boolean;
  Attachable?: boolean;
  Ingress?: boolean;
  ConfigOnly?: boolean;
  ConfigFrom?: { Network: string } | null;
  IPAM?: IPAM | null;
  EnableIPv6?: boolean;
  Options?: Record<string, string>;
  Labels?: Record<string, string>;
}

export interface NetworkCreateResponse {
  Id: string;
  Warning: string;
}

/** `POST /networks/{id}/connect`. */
export interface NetworkConnectRequest {
  Container: string;
  EndpointConfig?: EndpointSettings;
}

/** `POST /networks/{id}/disconnect`. */
export interface NetworkDisconnectRequest {
  Container: string;
  Force?: boolean;
}

export interface NetworkPruneResponse {
  NetworksDeleted: string[] | null;
}

// ---- system ------------------------------------------------------------------------------

export interface BuildCacheRecord {
  ID: string;
  Parent?: string;
  Parents?: string[];
  Type: string;
  Description: string;
  InUse: boolean;
  Shared: boolean;
  Size: number;
  CreatedAt: string;
  LastUsedAt: string | null;
  UsageCount: number;
}

/**
 * `GET /system/df`. Images carry SharedSize and Containers counts; containers carry SizeRw
 * and SizeRootFs; volumes carry UsageData.
 */
export interface SystemDf {
  LayersSize: number;
  Images: ImageSummary[];
  Containers: ContainerSummary[];
  Volumes: Volume[];
  BuildCache: BuildCacheRecord[] | null;
}

/** One object of `GET /events?since=&until=&filters=` (a JSON stream). */
export interface EventMessage {
  Type: "container" | "image" | "volume" | "network" | "daemon" | "plugin" | "builder" | string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: "local" | "swarm";
  /** Unix seconds and nanoseconds. */
  time: number;
  timeNano: number;
  /** Deprecated mirrors of Action / Actor.ID / the image, still sent for containers. */
  status?: string;
  id?: string;
  from?: string;
}

// ---- pier extensions ---------------------------------------------------------------------

/** A namespace of the container's process 1 and whether it is its own. */
export interface ExplainNamespace {
  /** "pid", "mnt", "net", "uts", "ipc", "user", "cgroup", "time". */
  Type: string;
  /** The inode of /proc/<pid>/ns/<type>: equal inodes are the same namespace. */
  Inode: number;
  /** "private" (the container's own), "host", or "container:NAME" (joined another's). */
  Shared: string;
}

export interface ExplainLayer {
  /** Image layers are read-only; the init layer holds /etc/hosts & co; container is the writable one. */
  Kind: "image" | "init" | "container";
  /** The layer's diff ID or chain ID (image layers). */
  Id?: string;
  /** The history entry that made it (image layers). */
  CreatedBy?: string;
  /** Its directory on the host. */
  Path: string;
  /** Bytes. */
  Size: number;
}

/** `GET /containers/{id}/explain` (pier extension): what a container is made of. */
export interface ContainerExplain {
  Id: string;
  /** Without the leading slash. */
  Name: string;
  Image: string;
  Process: {
    /** Process 1's pid on the host (0 when not running); it is PID 1 inside. */
    HostPid: number;
    Command: string[];
  };
  Namespaces: ExplainNamespace[];
  Cgroup: {
    Path: string;
    Limits: {
      /** Bytes. */
      Memory?: number;
      MemorySwap?: number;
      /** Microseconds per period. */
      CpuQuota?: number;
      CpuPeriod?: number;
      /** CPUs as a decimal (quota / period). */
      Cpus?: number;
      CpuShares?: number;
      CpusetCpus?: string;
      PidsMax?: number;
    };
    Usage: {
      /** Bytes. */
      Memory?: number;
      Pids?: number;
      CpuSeconds?: number;
    };
  };
  /** Bottom (the base image layer) to top (the writable layer). */
  Layers: ExplainLayer[];
  Mounts: { Type: string; Name?: string; Source: string; Destination: string; RW: boolean }[];
  Ports: { HostIp: string; HostPort: string; ContainerPort: string; Protocol: string }[];
  Network: { Mode: string; IPAddress?: string; Gateway?: string; Networks: string[] };
  /** Whether lxcfs views of /proc (meminfo, cpuinfo, …) are mounted in. */
  Lxcfs: boolean;
}

/** Something pier's state leaked: a mount, a cgroup, a snapshot, a directory nobody owns. */
export interface SystemLeak {
  /** "container", "mount", "cgroup", "snapshot", "monitor", "network", "volume", … */
  Kind: string;
  /** What it belongs to (a container ID, a snapshot key), when known. */
  Id?: string;
  /** Where it is on the host. */
  Path?: string;
  /** What is wrong, for a person. */
  Detail: string;
  /** Bytes it holds, when known. */
  Size?: number;
}

/** `GET /pier/system/check` (pier extension). */
export interface SystemCheckResponse {
  Leaks: SystemLeak[];
}

/** `POST /pier/system/prune` (pier extension): the leaks removed. */
export interface SystemLeakPruneResponse {
  Removed: SystemLeak[];
  SpaceReclaimed: number;
}
