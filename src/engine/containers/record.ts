/**
 * What pier keeps about one container, on disk as `<root>/containers/<id>/container.json`
 * (written by temp file + rename). The create request is kept in Docker's own shapes
 * (Config, HostConfig), so inspect is a projection of the record and nothing is lost.
 *
 * Everything about the running process (pid, exit status) can be re-read from the files
 * the monitor writes next to it, so a record is never the only truth about a process.
 */
import type {
  ContainerConfig,
  EndpointSettings,
  Health,
  HostConfig,
  MountPoint,
} from "../../api/container-types.ts";

export type Status = "created" | "running" | "paused" | "restarting" | "removing" | "exited" | "dead";

export interface RunState {
  status: Status;
  pid: number;
  monitorPid: number;
  exitCode: number;
  oomKilled: boolean;
  error: string;
  /** RFC 3339; "" when never. */
  startedAt: string;
  finishedAt: string;
  /** `docker stop`/`kill` by a user: no restart by policy (until the next start). */
  manuallyStopped: boolean;
  restartCount: number;
  /** HEALTHCHECK results, when the container has one. */
  health?: Health;
}

/** One endpoint on a network, as attached (kept to detach it later). */
export interface Endpoint extends EndpointSettings {
  Network: string;
}

export interface ContainerRecord {
  id: string;
  /** Without the leading slash. */
  name: string;
  /** RFC 3339 with nanoseconds. */
  created: string;
  /** The image as the user gave it, and its id at create time. */
  image: string;
  imageId: string;
  /** The effective config: the image's config with the create request's on top. */
  config: ContainerConfig;
  hostConfig: HostConfig;
  /** The networks asked for at create (name → settings). */
  endpointsConfig: Record<string, EndpointSettings>;
  path: string;
  args: string[];
  state: RunState;
  /** Resolved mounts (volumes created, binds checked). */
  mounts: MountPoint[];
  /** Attached endpoints while running (network name → settings). */
  endpoints: Record<string, Endpoint>;
  /** The netns file the container joins (bridge/user networks, none). */
  netnsPath?: string;
  /** The snapshot holding the writable layer. */
  snapshotKey: string;
  /** lxcfs views were mounted at the last start. */
  lxcfs: boolean;
  /** Host ports bound by -p, resolved (0 and ranges picked), by "port/proto". */
  ports: Record<string, { HostIp: string; HostPort: string }[]>;
}

export const ZERO_TIME = "0001-01-01T00:00:00Z";

export function freshState(): RunState {
  return {
    status: "created",
    pid: 0,
    monitorPid: 0,
    exitCode: 0,
    oomKilled: false,
    error: "",
    startedAt: "",
    finishedAt: "",
    manuallyStopped: false,
    restartCount: 0,
  };
}
