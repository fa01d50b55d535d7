/** A container record as docker's API shows it: inspect, ps, and the human "Status". */
import type {
  ContainerInspect,
  ContainerSummary,
  EndpointSettings,
  MountPoint,
  NetworkSettings,
  Port,
  PortMap,
} from "../../api/container-types.ts";
import type { Engine } from "./engine.ts";
import { healthSuffix } from "./health.ts";
import { withInitLayer } from "./rootfs.ts";
import { ZERO_TIME, type ContainerRecord } from "./record.ts";

/** "Up 2 seconds", "Exited (0) 3 minutes ago", "Created", as docker words it. */
export function humanStatus(rec: ContainerRecord, now = Date.now()): string {
  const s = rec.state;
  switch (s.status) {
    case "created":
      return "Created";
    case "running":
      return `Up ${humanDuration(now - Date.parse(s.startedAt))}${healthSuffix(rec)}`;
    case "paused":
      return `Up ${humanDuration(now - Date.parse(s.startedAt))} (Paused)`;
    case "restarting":
      return `Restarting (${s.exitCode}) ${humanDuration(now - Date.parse(s.finishedAt || s.startedAt))} ago`;
    case "removing":
      return "Removal In Progress";
    case "dead":
      return "Dead";
    default:
      return s.finishedAt
        ? `Exited (${s.exitCode}) ${humanDuration(now - Date.parse(s.finishedAt))} ago`
        : "Exited";
  }
}

/** Go's units.HumanDuration, which docker uses. */
export function humanDuration(ms: number): string {
  const sec = Math.round(ms / 1000);
  if (sec < 1) return "Less than a second";
  if (sec === 1) return "1 second";
  if (sec < 60) return `${sec} seconds`;
  const min = Math.round(sec / 60);
  if (min === 1) return "About a minute";
  if (min < 60) return `${min} minutes`;
  const h = Math.round(sec / 3600);
  if (h === 1) return "About an hour";
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.round(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.round(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.round(h / 24 / 30)} months`;
  return `${Math.round(h / 24 / 365)} years`;
}

function portMap(rec: ContainerRecord): PortMap {
  const out: PortMap = {};
  for (const k of Object.keys(rec.config.ExposedPorts ?? {})) out[k.includes("/") ? k : `${k}/tcp`] = null;
  for (const [k, v] of Object.entries(rec.ports))
    out[k] = v.map((b) => ({ HostIp: b.HostIp, HostPort: b.HostPort }));
  return out;
}

function ports(rec: ContainerRecord): Port[] {
  const out: Port[] = [];
  const running = rec.state.status === "running" || rec.state.status === "paused";
  for (const [k, v] of Object.entries(running ? portMap(rec) : {})) {
    const [p, t0 = "tcp"] = k.split("/");
    const t = t0 as Port["Type"];
    if (!v?.length) out.push({ PrivatePort: Number(p), Type: t });
    for (const b of v ?? [])
      out.push({
        IP: b.HostIp ?? "0.0.0.0",
        PrivatePort: Number(p),
        PublicPort: Number(b.HostPort),
        Type: t,
      });
  }
  return out;
}

function networks(rec: ContainerRecord): Record<string, EndpointSettings> {
  const out: Record<string, EndpointSettings> = {};
  for (const [n, ep] of Object.entries(rec.endpoints)) {
    const { Network: _n, ...rest } = ep;
    void _n;
    out[n] = {
      IPAMConfig: null,
      Links: null,
      Aliases: rest.Aliases ?? null,
      NetworkID: rest.NetworkID ?? "",
      EndpointID: rest.EndpointID ?? "",
      Gateway: rest.Gateway ?? "",
      IPAddress: rest.IPAddress ?? "",
      IPPrefixLen: rest.IPPrefixLen ?? 0,
      IPv6Gateway: "",
      GlobalIPv6Address: "",
      GlobalIPv6PrefixLen: 0,
      MacAddress: rest.MacAddress ?? "",
      DriverOpts: null,
    };
  }
  if (Object.keys(out).length === 0) {
    const mode = rec.hostConfig.NetworkMode || "bridge";
    const name = mode === "default" ? "bridge" : mode;
    if (!name.startsWith("container:"))
      out[name] = {
        IPAMConfig: null,
        Links: null,
        Aliases: null,
        NetworkID: "",
        EndpointID: "",
        Gateway: "",
        IPAddress: "",
        IPPrefixLen: 0,
        IPv6Gateway: "",
        GlobalIPv6Address: "",
        GlobalIPv6PrefixLen: 0,
        MacAddress: "",
        DriverOpts: null,
      };
  }
  return out;
}

export function summary(rec: ContainerRecord): ContainerSummary {
  return {
    Id: rec.id,
    Names: [`/${rec.name}`],
    Image: rec.image,
    ImageID: rec.imageId,
    Command: [rec.path, ...rec.args].join(" "),
    Created: Math.floor(Date.parse(rec.created) / 1000),
    Ports: ports(rec),
    Labels: rec.config.Labels ?? {},
    State: rec.state.status,
    Status: humanStatus(rec),
    HostConfig: { NetworkMode: rec.hostConfig.NetworkMode || "bridge" },
    NetworkSettings: { Networks: networks(rec) },
    Mounts: rec.mounts.map(mountView),
  };
}

function mountView(m: MountPoint): MountPoint {
  return {
    Type: m.Type,
    ...(m.Name ? { Name: m.Name } : {}),
    Source: m.Source,
    Destination: m.Destination,
    ...(m.Type === "volume" ? { Driver: "local" } : {}),
    Mode: m.Mode,
    RW: m.RW,
    Propagation: m.Propagation,
  };
}

export async function inspect(
  engine: Engine,
  rec: ContainerRecord,
  execIds: string[],
): Promise<ContainerInspect> {
  const f = engine.files(rec.id);
  const s = rec.state;
  const running = s.status === "running" || s.status === "paused";
  const nets = networks(rec);
  const first = Object.values(rec.endpoints)[0];
  const ns: NetworkSettings = {
    Bridge: "",
    SandboxID: rec.netnsPath ? rec.id : "",
    HairpinMode: false,
    LinkLocalIPv6Address: "",
    LinkLocalIPv6PrefixLen: 0,
    Ports: running ? portMap(rec) : {},
    SandboxKey: rec.netnsPath ?? "",
    SecondaryIPAddresses: null,
    SecondaryIPv6Addresses: null,
    EndpointID: first?.EndpointID ?? "",
    Gateway: first?.Gateway ?? "",
    GlobalIPv6Address: "",
    GlobalIPv6PrefixLen: 0,
    IPAddress: first?.IPAddress ?? "",
    IPPrefixLen: first?.IPPrefixLen ?? 0,
    IPv6Gateway: "",
    MacAddress: first?.MacAddress ?? "",
    Networks: nets,
  };
  let graph: ContainerInspect["GraphDriver"] = { Name: "overlay2", Data: null };
  try {
    const layered = withInitLayer(await engine.opts.images.rootfsMounts(rec.snapshotKey), f.init);
    graph = {
      Name: "overlay2",
      Data: {
        LowerDir: layered.lowerDirs.join(":"),
        MergedDir: f.merged,
        ...(layered.upperDir ? { UpperDir: layered.upperDir } : {}),
        ...(layered.workDir ? { WorkDir: layered.workDir } : {}),
      },
    };
  } catch {
    // snapshot gone (being removed)
  }
  return {
    Id: rec.id,
    Created: rec.created,
    Path: rec.path,
    Args: rec.args,
    State: {
      Status: s.status,
      Running: running,
      Paused: s.status === "paused",
      Restarting: s.status === "restarting",
      OOMKilled: s.oomKilled,
      Dead: s.status === "dead",
      Pid: running ? s.pid : 0,
      ExitCode: s.exitCode,
      Error: s.error,
      StartedAt: s.startedAt || ZERO_TIME,
      FinishedAt: s.finishedAt || ZERO_TIME,
      ...(s.health ? { Health: s.health } : {}),
    },
    Image: rec.imageId,
    ResolvConfPath: f.resolvConf,
    HostnamePath: f.hostname,
    HostsPath: f.hosts,
    LogPath: f.log,
    Name: `/${rec.name}`,
    RestartCount: s.restartCount,
    Driver: "overlay2",
    Platform: "linux",
    MountLabel: "",
    ProcessLabel: "",
    AppArmorProfile: "",
    ExecIDs: execIds.length ? execIds : null,
    HostConfig: {
      NetworkMode: "bridge",
      RestartPolicy: { Name: "no", MaximumRetryCount: 0 },
      LogConfig: { Type: "json-file", Config: {} },
      ...rec.hostConfig,
    },
    GraphDriver: graph,
    Mounts: rec.mounts.map(mountView),
    Config: { ...rec.config, Image: rec.image },
    NetworkSettings: ns,
  };
}
