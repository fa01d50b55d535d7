/**
 * A small Docker Engine API client over a unix socket (node:http with socketPath), used by
 * the `pier` CLI and tests. The first call negotiates the version with `HEAD /_ping`
 * (min of the daemon's Api-Version and ours), as the docker CLI does.
 *
 * Errors: a non-2xx answer becomes a DaemonError (a PierError whose kind comes from the
 * status, message from the body); no daemon at the socket is Unavailable with
 * `connectFailed` set, which the CLI uses to start pierd.
 */
import {
  Agent,
  request,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type RequestOptions as HttpRequestOptions,
} from "node:http";
import type { Socket } from "node:net";
import type { Readable } from "node:stream";
import { PierError, type ErrorKind } from "../../common/errors.ts";
import type {
  DeleteItem,
  HistoryItem,
  ImageInspect,
  ImageSummary,
  InfoResponse,
  JsonMessage,
  PruneResponse,
  VersionResponse,
} from "../types.ts";
import { API_VERSION, minVersion } from "../version.ts";
import { ContainersApi } from "./containers.ts";
import { ExecApi } from "./exec.ts";
import { hijack, HijackRefused } from "./hijack.ts";
import { readJsonLines } from "./jsonlines.ts";
import { NetworksApi } from "./networks.ts";
import { SystemApi } from "./system.ts";
import { VolumesApi } from "./volumes.ts";

export const DEFAULT_SOCKET = "/run/pier/pier.sock";

/** The client's one mapping from HTTP status back to an error kind. */
export function kindOfStatus(status: number): ErrorKind {
  switch (status) {
    case 400:
      return "InvalidArgument";
    case 403:
      return "PermissionDenied";
    case 404:
      return "NotFound";
    case 409:
      return "Conflict";
    case 501:
      return "NotImplemented";
    case 503:
      return "Unavailable";
    default:
      return "Internal";
  }
}

/** An error the daemon answered with (the CLI prints "Error response from daemon: …"). */
export class DaemonError extends PierError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(kindOfStatus(status), message);
  }
}

/** No daemon answered at the socket. */
export class ConnectError extends PierError {
  readonly connectFailed = true;
  constructor(
    readonly socketPath: string,
    cause: unknown,
  ) {
    super(
      "Unavailable",
      `Cannot connect to the pier daemon at unix://${socketPath}. Is the pier daemon running?`,
      {
        cause,
      },
    );
  }
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | string[] | undefined>;
  body?: unknown;
  /** A stream to send as the body (save/load). */
  stream?: Readable;
  headers?: Record<string, string>;
  /** Send to the unversioned path. */
  unversioned?: boolean;
}

export interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: IncomingMessage;
}

export interface ClientOptions {
  socketPath?: string;
  /** A fixed API version (skips negotiation). */
  version?: string;
}

const EMPTY_AUTH = "e30="; // base64 of "{}"

export class ApiClient {
  readonly socketPath: string;
  // Streams (wait, logs -f, stats of many containers) each hold a connection while open.
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });
  private version: string | undefined;

  readonly containers = new ContainersApi(this);
  readonly exec = new ExecApi(this);
  readonly volumes = new VolumesApi(this);
  readonly networks = new NetworksApi(this);
  readonly system = new SystemApi(this);

  constructor(opts: ClientOptions = {}) {
    this.socketPath = opts.socketPath ?? DEFAULT_SOCKET;
    this.version = opts.version;
  }

  /** Releases pooled connections. */
  close(): void {
    this.agent.destroy();
  }

  async ping(): Promise<{ apiVersion: string | undefined; headers: IncomingHttpHeaders }> {
    const r = await this.request("HEAD", "/_ping", { unversioned: true });
    r.body.resume();
    if (r.status === 404 || r.status === 405) {
      const g = await this.request("GET", "/_ping", { unversioned: true });
      g.body.resume();
      return { apiVersion: header(g.headers, "api-version"), headers: g.headers };
    }
    if (r.status >= 400) throw new DaemonError(r.status, `ping: status ${r.status}`);
    return { apiVersion: header(r.headers, "api-version"), headers: r.headers };
  }

  /** The API version used for requests (negotiated on first use). */
  async apiVersion(): Promise<string> {
    if (this.version === undefined) {
      const p = await this.ping();
      this.version = minVersion(p.apiVersion ?? "1.24", API_VERSION);
    }
    return this.version;
  }

  async request(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const prefix = opts.unversioned ? "" : `/v${await this.apiVersion()}`;
    const q = queryString(opts.query);
    const headers: Record<string, string> = { "User-Agent": "pier-cli", ...opts.headers };
    let data: Buffer | undefined;
    if (opts.body !== undefined) {
      data = Buffer.from(JSON.stringify(opts.body));
      headers["Content-Type"] = "application/json";
      headers["Content-Length"] = String(data.length);
    }
    return new Promise<Response>((resolve, reject) => {
      const req = request(
        {
          socketPath: this.socketPath,
          agent: this.agent,
          // No TLS server name to work out: saves the agent compiling net's IPv6 regexp
          // on the first request (about 5 ms of the CLI's start-up).
          servername: "",
          method,
          path: `${prefix}${path}${q ? `?${q}` : ""}`,
          headers: { Host: "pier", ...headers },
        } as HttpRequestOptions,
        (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res }),
      );
      req.on("error", (e: NodeJS.ErrnoException) => {
        if (e.code === "ENOENT" || e.code === "ECONNREFUSED") reject(new ConnectError(this.socketPath, e));
        else reject(e);
      });
      if (opts.stream) opts.stream.pipe(req);
      else req.end(data);
    });
  }

  /** A request whose non-2xx answers throw DaemonError. */
  async call(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const r = await this.request(method, path, opts);
    if (r.status >= 400) throw new DaemonError(r.status, await errorMessage(r));
    return r;
  }

  /** A request whose answer has no body worth reading (204, 304, an empty 200). */
  async empty(method: string, path: string, opts: RequestOptions = {}): Promise<number> {
    const r = await this.call(method, path, opts);
    r.body.resume();
    return r.status;
  }

  /**
   * An upgraded (hijacked) connection: `POST path` with `Upgrade: tcp`, answered 101.
   * Resolves with the socket; an error answer is a DaemonError as for `call`.
   */
  async hijack(
    path: string,
    opts: { query?: RequestOptions["query"]; body?: unknown } = {},
  ): Promise<Socket> {
    const q = queryString(opts.query);
    const full = `/v${await this.apiVersion()}${path}${q ? `?${q}` : ""}`;
    try {
      return await hijack({ socketPath: this.socketPath, path: full, body: opts.body });
    } catch (e) {
      if (e instanceof HijackRefused && e.status >= 400)
        throw new DaemonError(e.status, messageOf(e.body, e.status));
      if (e instanceof HijackRefused) throw new PierError("Internal", e.message);
      throw e;
    }
  }

  async json<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const r = await this.call(method, path, opts);
    const text = await readAll(r.body);
    return (text.length === 0 ? undefined : JSON.parse(text.toString("utf8"))) as T;
  }

  /** A JSON-lines stream of messages (pull, push, load). */
  async *stream(method: string, path: string, opts: RequestOptions = {}): AsyncGenerator<JsonMessage> {
    const r = await this.call(method, path, opts);
    yield* readJsonLines<JsonMessage>(r.body);
  }

  systemVersion(): Promise<VersionResponse> {
    return this.json("GET", "/version");
  }

  info(): Promise<InfoResponse> {
    return this.json("GET", "/info");
  }

  listImages(
    opts: { all?: boolean; digests?: boolean; filters?: Record<string, string[]> } = {},
  ): Promise<ImageSummary[]> {
    const f = opts.filters && Object.keys(opts.filters).length > 0 ? opts.filters : undefined;
    return this.json("GET", "/images/json", {
      query: {
        all: opts.all ? "1" : undefined,
        digests: opts.digests ? "1" : undefined,
        filters: f ? JSON.stringify(f) : undefined,
      },
    });
  }

  inspectImage(ref: string): Promise<ImageInspect> {
    return this.json("GET", `/images/${encodeName(ref)}/json`);
  }

  imageHistory(ref: string): Promise<HistoryItem[]> {
    return this.json("GET", `/images/${encodeName(ref)}/history`);
  }

  async tagImage(source: string, repo: string, tag: string): Promise<void> {
    (await this.call("POST", `/images/${encodeName(source)}/tag`, { query: { repo, tag } })).body.resume();
  }

  removeImage(ref: string, opts: { force?: boolean; noPrune?: boolean } = {}): Promise<DeleteItem[]> {
    return this.json("DELETE", `/images/${encodeName(ref)}`, {
      query: { force: opts.force ? "1" : undefined, noprune: opts.noPrune ? "1" : undefined },
    });
  }

  /** `fromImage` is a repository (normalized or not), `tag` a tag or digest. */
  pullImage(fromImage: string, tag: string, opts: { platform?: string; auth?: string } = {}) {
    return this.stream("POST", "/images/create", {
      query: { fromImage, tag, platform: opts.platform },
      headers: { "X-Registry-Auth": opts.auth ?? EMPTY_AUTH },
    });
  }

  pushImage(name: string, tag: string | undefined, opts: { auth?: string } = {}) {
    return this.stream("POST", `/images/${encodeName(name)}/push`, {
      query: { tag },
      headers: { "X-Registry-Auth": opts.auth ?? EMPTY_AUTH },
    });
  }

  /** The archive as a stream (docker-archive, or an OCI layout with `format: "oci"`, a pier extension). */
  async saveImages(refs: string[], opts: { format?: string } = {}): Promise<IncomingMessage> {
    const r = await this.call("GET", "/images/get", { query: { names: refs, format: opts.format } });
    return r.body;
  }

  /** docker import: a rootfs tarball as the body of `POST /images/create?fromSrc=-`. */
  importImage(
    tar: Readable,
    opts: { repo?: string; tag?: string; changes?: string[]; message?: string } = {},
  ) {
    return this.stream("POST", "/images/create", {
      query: { fromSrc: "-", repo: opts.repo, tag: opts.tag, changes: opts.changes, message: opts.message },
      stream: tar,
      headers: { "Content-Type": "application/x-tar" },
    });
  }

  /** pier's `POST /images/bootstrap?name=`: a base image made without a network. */
  bootstrapImage(name: string) {
    return this.stream("POST", "/images/bootstrap", { query: { name } });
  }

  /** docker's `POST /auth`: checks credentials against a registry. */
  login(auth: { username?: string; password?: string; serveraddress: string }): Promise<{ Status: string }> {
    return this.json("POST", "/auth", { body: auth });
  }

  loadImages(archive: Readable, opts: { quiet?: boolean } = {}) {
    return this.stream("POST", "/images/load", {
      query: { quiet: opts.quiet ? "1" : "0" },
      stream: archive,
      headers: { "Content-Type": "application/x-tar" },
    });
  }

  pruneImages(opts: { all?: boolean } = {}): Promise<PruneResponse> {
    return this.json("POST", "/images/prune", {
      query: { filters: JSON.stringify(opts.all ? { dangling: ["false"] } : {}) },
    });
  }
}

/** Image names go into paths as they are (`/images/localhost:5000/bb/push`), each segment escaped. */
export function encodeName(name: string): string {
  return name
    .split("/")
    .map((s) => encodeURIComponent(s).replace(/%3A/gi, ":").replace(/%40/g, "@"))
    .join("/");
}

function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

async function readAll(body: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c);
  return Buffer.concat(chunks);
}

/** The query as Go's url.Values.Encode writes it: keys sorted, repeated keys kept in order. */
function queryString(query: RequestOptions["query"]): string {
  const qs = new URLSearchParams();
  for (const k of Object.keys(query ?? {}).sort()) {
    const v = query?.[k];
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) qs.append(k, x);
    else if (typeof v === "boolean") qs.set(k, v ? "1" : "0");
    else qs.set(k, String(v));
  }
  return qs.toString();
}

async function errorMessage(r: Response): Promise<string> {
  return messageOf((await readAll(r.body)).toString("utf8"), r.status);
}

function messageOf(text: string, status: number): string {
  try {
    const o = JSON.parse(text) as { message?: unknown };
    if (typeof o.message === "string") return o.message;
  } catch {
    // not JSON: use the text
  }
  return text.trim() || `status ${status}`;
}
