/**
 * A stub Docker Engine API on a temp unix socket, for the CLI's tests and for recording
 * what the real docker CLI sends (src/cli/testdata/record-docker.ts). It answers every
 * endpoint the CLI uses with fixed, plausible bodies, records each request (in arrival
 * order, with its body), hijacks attach / exec start with a 101 and writes "hi\n" as a
 * stdout frame, and sends `/wait`'s headers at once with the body a moment later.
 *
 * Tests override routes with `stub.route(method, pattern, handler)` (checked first) and
 * read `stub.log`: requests plus events ("stdin …", "half-close", "wait headers sent").
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { header } from "../tar.ts";

export const STUB_ID = "a".repeat(64);
export const STUB_EXEC_ID = "e".repeat(64);

export interface StubRequest {
  method: string;
  /** As sent, with the version prefix and query. */
  url: string;
  /** Without the version prefix or query. */
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage["headers"];
  body: string;
  upgrade: boolean;
}

export type Route = (req: StubRequest, res: ServerResponse) => void | Promise<void>;
export type HijackRoute = (req: StubRequest, socket: Socket, log: (event: string) => void) => void;

export const STUB_INSPECT = {
  Id: STUB_ID,
  Name: "/web",
  Created: "2024-01-01T00:00:00Z",
  Path: "sh",
  Args: [],
  State: {
    Status: "running",
    Running: true,
    Paused: false,
    Restarting: false,
    Pid: 42,
    ExitCode: 0,
    StartedAt: "2024-01-01T00:00:00Z",
    FinishedAt: "0001-01-01T00:00:00Z",
  },
  Config: { Tty: false, OpenStdin: true, Cmd: ["sh"], Image: "busybox" },
  HostConfig: {},
  NetworkSettings: { Ports: { "80/tcp": [{ HostIp: "0.0.0.0", HostPort: "8080" }] } },
};

/** Containers as `GET /containers/json` lists them; created an hour before "now". */
export function stubContainers(size: boolean): unknown[] {
  const created = Math.floor(Date.now() / 1000) - 3600;
  const sizes = (rw: number, root: number) => (size ? { SizeRw: rw, SizeRootFs: root } : {});
  return [
    {
      Id: STUB_ID,
      Names: ["/web"],
      Image: "busybox",
      ImageID: "sha256:" + "b".repeat(64),
      Command: "httpd -f -p 80 -h /www",
      Created: created,
      Ports: [
        { IP: "0.0.0.0", PrivatePort: 80, PublicPort: 8080, Type: "tcp" },
        { IP: "::", PrivatePort: 80, PublicPort: 8080, Type: "tcp" },
        { PrivatePort: 443, Type: "tcp" },
        { IP: "127.0.0.1", PrivatePort: 9000, PublicPort: 9000, Type: "udp" },
        { IP: "127.0.0.1", PrivatePort: 9001, PublicPort: 9001, Type: "udp" },
      ],
      ...sizes(12345, 4_400_000),
      Labels: { "com.example.tier": "front", app: "web" },
      State: "running",
      Status: "Up About an hour",
      HostConfig: { NetworkMode: "bridge" },
      NetworkSettings: { Networks: { bridge: {}, mynet: {} } },
      Mounts: [
        {
          Type: "volume",
          Name: "data",
          Source: "/var/lib/pier/volumes/data/_data",
          Destination: "/data",
          Driver: "local",
          Mode: "z",
          RW: true,
          Propagation: "",
        },
        {
          Type: "bind",
          Source: "/srv/a/very/long/source/path",
          Destination: "/www",
          Mode: "",
          RW: false,
          Propagation: "rprivate",
        },
      ],
    },
    {
      Id: "d".repeat(64),
      Names: ["/db", "/web/db"],
      Image: "sha256:" + "f".repeat(64),
      ImageID: "sha256:" + "f".repeat(64),
      Command: 'sh -c "while true; do sleep 1; done"',
      Created: created - 60,
      Ports: [],
      ...sizes(0, 0),
      Labels: {},
      State: "exited",
      Status: "Exited (1) 5 minutes ago",
      HostConfig: { NetworkMode: "none" },
      NetworkSettings: { Networks: {} },
      Mounts: [],
    },
    {
      Id: "9".repeat(64),
      Names: ["/cache"],
      Image: "localhost:5000/redis:7@sha256:" + "0".repeat(64),
      ImageID: "sha256:" + "1".repeat(64),
      Command: "",
      Created: created - 120,
      Ports: [
        { PrivatePort: 6379, Type: "tcp" },
        { PrivatePort: 6380, Type: "tcp" },
      ],
      ...sizes(0, 100),
      Labels: { a: "b" },
      State: "paused",
      Status: "Up 2 hours (Paused)",
      HostConfig: { NetworkMode: "host" },
      NetworkSettings: { Networks: { host: {} } },
      Mounts: [
        {
          Type: "volume",
          Name: "0123456789abcdef0123456789abcdef",
          Source: "/x",
          Destination: "/y",
          Driver: "local",
          Mode: "",
          RW: true,
          Propagation: "",
        },
      ],
    },
  ];
}

export const STUB_VOLUMES = [
  {
    Name: "data",
    Driver: "local",
    Mountpoint: "/var/lib/pier/volumes/data/_data",
    CreatedAt: "2024-01-01T00:00:00Z",
    Labels: { a: "b" },
    Scope: "local",
    Options: null,
  },
  {
    Name: "0123456789abcdef0123456789abcdef",
    Driver: "local",
    Mountpoint: "/var/lib/pier/volumes/0123/_data",
    CreatedAt: "2024-01-01T00:00:00Z",
    Labels: null,
    Scope: "local",
    Options: null,
  },
];

export const STUB_NETWORKS = [
  {
    Name: "bridge",
    Id: "1".repeat(64),
    Created: "2024-01-01T00:00:00Z",
    Scope: "local",
    Driver: "bridge",
    EnableIPv6: false,
    IPAM: { Driver: "default", Options: null, Config: [{ Subnet: "172.17.0.0/16", Gateway: "172.17.0.1" }] },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: "" },
    ConfigOnly: false,
    Containers: {},
    Options: {},
    Labels: {},
  },
  {
    Name: "host",
    Id: "2".repeat(64),
    Created: "2024-01-01T00:00:00Z",
    Scope: "local",
    Driver: "host",
    EnableIPv6: false,
    IPAM: { Driver: "default", Options: null, Config: [] },
    Internal: false,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: "" },
    ConfigOnly: false,
    Containers: {},
    Options: {},
    Labels: {},
  },
  {
    Name: "mynet",
    Id: "3".repeat(64),
    Created: "2024-01-01T00:00:00Z",
    Scope: "local",
    Driver: "bridge",
    EnableIPv6: true,
    IPAM: { Driver: "default", Options: null, Config: [] },
    Internal: true,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: "" },
    ConfigOnly: false,
    Containers: {},
    Options: {},
    Labels: { x: "y" },
  },
];

export function stubDf(): unknown {
  const containers = stubContainers(true);
  const created = Math.floor(Date.now() / 1000) - 3600;
  return {
    LayersSize: 9_000_000,
    Images: [
      {
        Id: "sha256:" + "b".repeat(64),
        ParentId: "",
        RepoTags: ["busybox:latest"],
        RepoDigests: [],
        Created: created,
        Size: 4_400_000,
        SharedSize: 0,
        Labels: {},
        Containers: 1,
      },
      {
        Id: "sha256:" + "f".repeat(64),
        ParentId: "",
        RepoTags: [],
        RepoDigests: [],
        Created: created,
        Size: 4_600_000,
        SharedSize: 0,
        Labels: {},
        Containers: 0,
      },
    ],
    Containers: containers,
    Volumes: STUB_VOLUMES.map((v, i) => ({
      ...v,
      UsageData: { Size: i === 0 ? 2_000_000 : 500, RefCount: i === 0 ? 1 : 0 },
    })),
    BuildCache: [],
  };
}

export const STUB_STATS = {
  read: "2024-01-01T00:00:01Z",
  preread: "2024-01-01T00:00:00Z",
  pids_stats: { current: 1 },
  blkio_stats: {
    io_service_bytes_recursive: [
      { major: 8, minor: 0, op: "read", value: 4096 },
      { major: 8, minor: 0, op: "write", value: 1_000_000 },
    ],
  },
  num_procs: 0,
  storage_stats: {},
  cpu_stats: {
    cpu_usage: { total_usage: 2000, usage_in_kernelmode: 0, usage_in_usermode: 0 },
    system_cpu_usage: 20000,
    online_cpus: 2,
    throttling_data: {},
  },
  precpu_stats: { cpu_usage: { total_usage: 1000 }, system_cpu_usage: 10000, throttling_data: {} },
  memory_stats: { usage: 1000000, limit: 2000000, stats: { inactive_file: 100000 } },
  name: "/web",
  id: STUB_ID,
  networks: {
    eth0: {
      rx_bytes: 1500,
      rx_packets: 1,
      rx_errors: 0,
      rx_dropped: 0,
      tx_bytes: 2_500_000,
      tx_packets: 2,
      tx_errors: 0,
      tx_dropped: 0,
    },
    eth1: {
      rx_bytes: 500,
      rx_packets: 1,
      rx_errors: 0,
      rx_dropped: 0,
      tx_bytes: 0,
      tx_packets: 0,
      tx_errors: 0,
      tx_dropped: 0,
    },
  },
};

/** One stdout frame: `[1,0,0,0,len]` + payload. */
export function stdoutFrame(s: string): Buffer {
  const p = Buffer.from(s);
  const h = Buffer.alloc(8);
  h[0] = 1;
  h.writeUInt32BE(p.length, 4);
  return Buffer.concat([h, p]);
}

export class StubDaemon {
  /** Requests and events in arrival order, e.g. "POST /containers/create", "half-close". */
  readonly log: string[] = [];
  readonly requests: StubRequest[] = [];
  /** How long `/wait` holds its body after the headers. */
  waitDelayMs = 100;
  /** The StatusCode `/wait` answers with. */
  waitStatus = 3;
  private routes: { method: string; pattern: RegExp; route: Route }[] = [];
  private hijackRoute: HijackRoute | undefined;
  private sockets = new Set<Socket>();

  private constructor(
    readonly dir: string,
    readonly socketPath: string,
    private readonly server: Server,
  ) {}

  static async start(): Promise<StubDaemon> {
    const dir = mkdtempSync(join(tmpdir(), "pier-stub-"));
    const socketPath = join(dir, "docker.sock");
    const server = createServer();
    const stub = new StubDaemon(dir, socketPath, server);
    server.on("connection", (s: Socket) => {
      stub.sockets.add(s);
      s.on("close", () => stub.sockets.delete(s));
    });
    server.on("request", (req, res) => void stub.onRequest(req, res));
    server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) =>
      stub.onUpgrade(req, socket, head),
    );
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(socketPath, resolve);
    });
    return stub;
  }

  /** Overrides the answer for matching requests (path without version prefix). */
  route(method: string, pattern: RegExp, route: Route): void {
    this.routes.unshift({ method, pattern, route });
  }

  /** Overrides what happens on a hijacked connection after the 101. */
  onHijack(route: HijackRoute): void {
    this.hijackRoute = route;
  }

  /** The request lines (no /_ping), e.g. `POST /v1.43/containers/create?name=web {…}`. */
  lines(): string[] {
    return this.requests
      .filter((r) => r.path !== "/_ping")
      .map((r) => `${r.method} ${r.url}${r.body ? ` ${r.body.trim()}` : ""}${r.upgrade ? " [upgrade]" : ""}`);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private record(req: IncomingMessage, body: string, upgrade: boolean): StubRequest {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const rawPath = q < 0 ? url : url.slice(0, q);
    const r: StubRequest = {
      method: req.method ?? "GET",
      url,
      path: decodeURIComponent(rawPath.replace(/^\/v\d+\.\d+/, "")),
      query: new URLSearchParams(q < 0 ? "" : url.slice(q + 1)),
      headers: req.headers,
      body,
      upgrade,
    };
    this.requests.push(r);
    this.log.push(`${r.method} ${r.path}${upgrade ? " [upgrade]" : ""}`);
    return r;
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const r = this.record(req, Buffer.concat(chunks).toString("utf8"), false);
    res.setHeader("Api-Version", "1.43");
    res.setHeader("Ostype", "linux");
    res.setHeader("Content-Type", "application/json");
    for (const x of this.routes) {
      if (x.method === r.method && x.pattern.test(r.path)) {
        await x.route(r, res);
        return;
      }
    }
    this.defaultRoute(r, res);
  }

  private defaultRoute(r: StubRequest, res: ServerResponse): void {
    const u = r.path;
    const j = (o: unknown, status = 200) => {
      res.statusCode = status;
      res.end(JSON.stringify(o));
    };
    if (u === "/_ping") {
      res.end(r.method === "HEAD" ? undefined : "OK");
      return;
    }
    if (u === "/containers/create") return j({ Id: STUB_ID, Warnings: [] }, 201);
    if (u.endsWith("/wait")) {
      res.writeHead(200);
      res.flushHeaders();
      this.log.push("wait headers sent");
      setTimeout(
        () => res.end(JSON.stringify({ StatusCode: this.waitStatus, Error: null })),
        this.waitDelayMs,
      );
      return;
    }
    if (u === "/containers/json") return j(stubContainers(r.query.get("size") === "1"));
    if (/^\/containers\/[^/]+\/json$/.test(u)) return j(STUB_INSPECT);
    if (/^\/containers\/[^/]+\/exec$/.test(u)) return j({ Id: STUB_EXEC_ID }, 201);
    if (/^\/exec\/[^/]+\/json$/.test(u)) return j({ ID: STUB_EXEC_ID, Running: false, ExitCode: 4 });
    if (u === "/volumes") return j({ Volumes: STUB_VOLUMES, Warnings: null });
    if (u === "/volumes/create") {
      return j(
        { Name: "v", Driver: "local", Mountpoint: "/x", Labels: null, Scope: "local", Options: null },
        201,
      );
    }
    if (u === "/networks") return j(STUB_NETWORKS);
    if (u === "/networks/create") return j({ Id: "n".repeat(64), Warning: "" }, 201);
    if (u.endsWith("/prune")) return j({});
    if (u === "/system/df")
      return j({ LayersSize: 0, Images: [], Containers: [], Volumes: [], BuildCache: [] });
    if (u.endsWith("/logs")) {
      res.setHeader("Content-Type", "application/vnd.docker.multiplexed-stream");
      res.end();
      return;
    }
    if (u.endsWith("/stats")) return j(STUB_STATS);
    if (u.endsWith("/top")) return j({ Titles: ["PID"], Processes: [["1"]] });
    if (u.endsWith("/update")) return j({ Warnings: null });
    if (u === "/commit") return j({ Id: "sha256:" + "c".repeat(64) }, 201);
    if (u.endsWith("/changes")) return j([{ Path: "/tmp", Kind: 0 }]);
    if (u === "/info") return j({ Swarm: { LocalNodeState: "inactive" } });
    if (u.endsWith("/archive") && (r.method === "HEAD" || r.method === "GET")) {
      // "/x" is a file holding "abc\n"; "/tmp" and anything ending in "/" are directories.
      const path = r.query.get("path") ?? "";
      const isDir = path === "/tmp" || path.endsWith("/");
      if (path !== "/x" && !isDir)
        return j({ message: `Could not find the file ${path} in container web` }, 404);
      const stat = {
        name: path.replace(/\/+$/, "").split("/").pop() || "/",
        size: isDir ? 4096 : 4,
        mode: isDir ? 2 ** 31 + 0o755 : 0o644,
        mtime: "2024-01-01T00:00:00Z",
        linkTarget: "",
      };
      res.setHeader("X-Docker-Container-Path-Stat", Buffer.from(JSON.stringify(stat)).toString("base64"));
      if (r.method === "HEAD") {
        res.end();
        return;
      }
      res.setHeader("Content-Type", "application/x-tar");
      const entry = {
        name: "x",
        type: "file" as const,
        mode: 0o644,
        uid: 0,
        gid: 0,
        size: 4,
        mtime: 1704067200,
        linkname: "",
      };
      res.end(Buffer.concat([header(entry), Buffer.from("abc\n"), Buffer.alloc(508), Buffer.alloc(1024)]));
      return;
    }
    if (u.endsWith("/archive") && r.method === "PUT") {
      res.end();
      return;
    }
    if (r.method === "POST" || r.method === "DELETE") {
      res.statusCode = 204;
      res.end();
      return;
    }
    j({ message: "nope" }, 404);
  }

  private onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    // exec start's JSON body may arrive after the headers: read Content-Length bytes first.
    const length = Number(req.headers["content-length"] ?? 0);
    let buf = head;
    const ready = () => {
      socket.off("data", more);
      const r = this.record(req, buf.subarray(0, length).toString("utf8"), true);
      const rest = buf.subarray(length);
      this.serveHijack(r, socket, rest);
    };
    const more = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= length) ready();
    };
    if (buf.length >= length) ready();
    else socket.on("data", more);
  }

  private serveHijack(r: StubRequest, socket: Socket, rest: Buffer): void {
    const log = (e: string) => this.log.push(e);
    socket.write(
      "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\n" +
        "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
    );
    if (rest.length > 0) socket.unshift(rest);
    if (this.hijackRoute) {
      this.hijackRoute(r, socket, log);
      return;
    }
    socket.on("data", (d: Buffer) => log(`stdin ${JSON.stringify(d.toString("utf8"))}`));
    socket.on("end", () => log("half-close"));
    socket.on("error", () => {});
    setTimeout(() => socket.end(stdoutFrame("hi\n")), 50);
  }
}
