/** `/_ping`, `/version`, `/info`, and the 404s docker inspect's fallback chain expects. */
import { existsSync, readFileSync } from "node:fs";
import { arch, cpus, hostname, release, totalmem } from "node:os";
import { notFound } from "../../../common/errors.ts";
import type { Backends } from "../../backend.ts";
import type { InfoResponse, VersionResponse } from "../../types.ts";
import { API_VERSION, MIN_API_VERSION } from "../../version.ts";
import { sendJson } from "../context.ts";
import type { ApiServer } from "../server.ts";

export const PIER_VERSION = "0.1.0";

const PING_HEADERS: Record<string, string> = {
  "Api-Version": API_VERSION,
  Ostype: "linux",
  "Docker-Experimental": "false",
  "Builder-Version": "1",
  Swarm: "inactive",
  "Cache-Control": "no-cache, no-store, must-revalidate",
  Pragma: "no-cache",
};

const goArch = (): string => ({ x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386" })[arch()] ?? arch();

export function versionResponse(): VersionResponse {
  const details = { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, GitCommit: "pier", Os: "linux" };
  return {
    Platform: { Name: "pier" },
    Components: [{ Name: "Engine", Version: PIER_VERSION, Details: { ...details, Arch: goArch() } }],
    Version: PIER_VERSION,
    ApiVersion: API_VERSION,
    MinAPIVersion: MIN_API_VERSION,
    GitCommit: "pier",
    GoVersion: `node${process.versions.node}`,
    Os: "linux",
    Arch: goArch(),
    KernelVersion: release(),
    BuildTime: "",
  };
}

function osName(): string {
  try {
    const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync("/etc/os-release", "utf8"));
    return m?.[1] ?? "Linux";
  } catch {
    return "Linux";
  }
}

export async function infoResponse(b: Backends): Promise<InfoResponse> {
  const facts = (await b.system?.info()) ?? {
    images: (await b.images.list({ all: false })).length,
    containers: { running: 0, paused: 0, stopped: 0 },
  };
  const c = facts.containers;
  const cgroup2 = existsSync("/sys/fs/cgroup/cgroup.controllers");
  return {
    ID: "",
    Containers: c.running + c.paused + c.stopped,
    ContainersRunning: c.running,
    ContainersPaused: c.paused,
    ContainersStopped: c.stopped,
    Images: facts.images,
    Driver: "overlay2",
    DriverStatus: [["Backing Filesystem", "extfs"]],
    Plugins: {
      Volume: ["local"],
      Network: ["bridge", "host", "null"],
      Authorization: null,
      Log: ["json-file"],
    },
    MemoryLimit: true,
    SwapLimit: true,
    CpuCfsPeriod: true,
    CpuCfsQuota: true,
    CPUShares: true,
    CPUSet: true,
    PidsLimit: true,
    IPv4Forwarding: true,
    Debug: false,
    NFd: 0,
    NGoroutines: 0,
    SystemTime: new Date().toISOString(),
    LoggingDriver: "json-file",
    CgroupDriver: "cgroupfs",
    CgroupVersion: cgroup2 ? "2" : "1",
    NEventsListener: 0,
    KernelVersion: release(),
    OperatingSystem: osName(),
    OSVersion: "",
    OSType: "linux",
    Architecture: arch() === "x64" ? "x86_64" : arch(),
    IndexServerAddress: "https://index.docker.io/v1/",
    RegistryConfig: {
      AllowNondistributableArtifactsCIDRs: null,
      AllowNondistributableArtifactsHostnames: null,
      InsecureRegistryCIDRs: ["127.0.0.0/8", "::1/128"],
      IndexConfigs: { "docker.io": { Name: "docker.io", Mirrors: [], Secure: true, Official: true } },
      Mirrors: null,
    },
    NCPU: cpus().length,
    MemTotal: totalmem(),
    DockerRootDir: b.root,
    HttpProxy: "",
    HttpsProxy: "",
    NoProxy: "",
    Name: hostname(),
    Labels: [],
    ExperimentalBuild: false,
    ServerVersion: PIER_VERSION,
    Runtimes: { "pier-runtime": { path: "pier-runtime" } },
    DefaultRuntime: "pier-runtime",
    Swarm: {
      NodeID: "",
      NodeAddr: "",
      LocalNodeState: "inactive",
      ControlAvailable: false,
      Error: "",
      RemoteManagers: null,
    },
    LiveRestoreEnabled: true,
    Isolation: "",
    InitBinary: "",
    ContainerdCommit: { ID: "" },
    RuncCommit: { ID: "" },
    InitCommit: { ID: "" },
    SecurityOptions: ["name=seccomp,profile=builtin"],
    Warnings: null,
  };
}

export function registerSystemRoutes(server: ApiServer, b: Backends): void {
  server.get("/_ping", (ctx) => {
    const body = ctx.method === "HEAD" ? "" : "OK";
    ctx.res.writeHead(200, {
      ...PING_HEADERS,
      "Content-Type": "text/plain; charset=utf-8",
      "Content-Length": Buffer.byteLength(body),
    });
    ctx.res.end(body);
  });
  server.get("/version", (ctx) => sendJson(ctx.res, 200, versionResponse()));
  server.get("/info", async (ctx) => sendJson(ctx.res, 200, await infoResponse(b)));
  // Not built yet: docker inspect walks containers → images → networks → volumes → plugins
  // and needs a JSON 404 from each to go on.
  server.get("/networks/{name}", (ctx) => {
    throw notFound(`network ${ctx.params.name ?? ""} not found`);
  });
  server.get("/volumes/{name}", (ctx) => {
    throw notFound(`get ${ctx.params.name ?? ""}: no such volume`);
  });
  // No build cache of its own yet: `docker system prune` asks anyway.
  server.post("/build/prune", (ctx) => sendJson(ctx.res, 200, { CachesDeleted: null, SpaceReclaimed: 0 }));
  server.get("/plugins/{name*}/json", (ctx) => {
    throw notFound(`plugin "${ctx.params.name ?? ""}" not found`);
  });
}
