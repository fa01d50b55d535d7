/**
 * The Docker Engine API over HTTP/1.1 on a unix socket.
 *
 *   const server = new ApiServer();
 *   registerSystemRoutes(server, backends); registerImageRoutes(server, backends.images);
 *   await server.listen("/run/pier/pier.sock");
 *
 * Every request: optional `/vX.Y` prefix (refused below MIN_API_VERSION with docker's
 * message), route match, handler; a thrown PierError becomes `{"message"}` with the status
 * from errors.ts. Upgrade requests (`Connection: Upgrade`) go to upgrade routes.
 */
import { chmodSync, mkdirSync, rmSync, statSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect } from "node:net";
import { dirname } from "node:path";
import type { Duplex } from "node:stream";
import { PierError, invalid } from "../../common/errors.ts";
import { API_VERSION, MIN_API_VERSION, compareVersions, minVersion } from "../version.ts";
import { COMMON_HEADERS, sendJson, type Ctx, type Handler, type UpgradeHandler } from "./context.ts";
import { errorResponse } from "./errors.ts";
import { writeRawError } from "./hijack.ts";
import { Router, splitVersion } from "./router.ts";

export interface ServerOptions {
  /** Called for each request when set (debug logging). */
  log?: (line: string) => void;
  /** Called with each internal (5xx) error and its stack. */
  onError?: (line: string) => void;
}

export class ApiServer {
  readonly http: Server;
  private readonly routes = new Router<Handler>();
  private readonly upgrades = new Router<UpgradeHandler>();
  private readonly sockets = new Set<Duplex>();
  private socketPath: string | undefined;

  constructor(private readonly opts: ServerOptions = {}) {
    this.http = createServer({ requestTimeout: 0, keepAliveTimeout: 60_000 }, (req, res) => {
      void this.handle(req, res);
    });
    this.http.headersTimeout = 60_000;
    this.http.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      void this.handleUpgrade(req, socket, head);
    });
    this.http.on("connection", (s: Duplex) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
  }

  get(pattern: string, h: Handler): this {
    this.routes.add("GET", pattern, h);
    return this;
  }
  post(pattern: string, h: Handler): this {
    this.routes.add("POST", pattern, h);
    return this;
  }
  delete(pattern: string, h: Handler): this {
    this.routes.add("DELETE", pattern, h);
    return this;
  }
  put(pattern: string, h: Handler): this {
    this.routes.add("PUT", pattern, h);
    return this;
  }
  head(pattern: string, h: Handler): this {
    this.routes.add("HEAD", pattern, h);
    return this;
  }
  /** A route for hijacked requests (`Connection: Upgrade`, e.g. attach and exec start). */
  upgrade(method: string, pattern: string, h: UpgradeHandler): this {
    this.upgrades.add(method, pattern, h);
    return this;
  }

  /** Listens on a unix socket: parent directory created, a stale socket replaced, mode 0660. */
  async listen(socketPath: string): Promise<void> {
    mkdirSync(dirname(socketPath), { recursive: true, mode: 0o755 });
    if (isSocket(socketPath)) {
      if (await answers(socketPath)) {
        throw new PierError("AlreadyExists", `another daemon is listening on ${socketPath}`);
      }
      rmSync(socketPath, { force: true });
    }
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      this.http.once("error", onError);
      this.http.listen(socketPath, () => {
        this.http.off("error", onError);
        resolve();
      });
    });
    this.socketPath = socketPath;
    chmodSync(socketPath, 0o660);
  }

  /** Stops accepting, ends open connections (hijacked ones too) and removes the socket. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.http.closeIdleConnections();
    for (const s of this.sockets) s.destroy();
    await closed;
    if (this.socketPath !== undefined) rmSync(this.socketPath, { force: true });
    this.socketPath = undefined;
  }

  private prepare(req: IncomingMessage): { ctx: Omit<Ctx, "res" | "params">; error?: PierError } {
    const url = new URL(req.url ?? "/", "http://pier");
    const { version, path } = splitVersion(url.pathname);
    const ctx = { req, method: req.method ?? "GET", path, query: url.searchParams, version: API_VERSION };
    if (version !== undefined) {
      if (compareVersions(version, MIN_API_VERSION) < 0) {
        return {
          ctx,
          error: invalid(
            `client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
          ),
        };
      }
      ctx.version = minVersion(version, API_VERSION);
    }
    return { ctx };
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    for (const [k, v] of Object.entries(COMMON_HEADERS)) res.setHeader(k, v === "" ? API_VERSION : v);
    try {
      const { ctx, error } = this.prepare(req);
      this.opts.log?.(`${ctx.method} ${req.url ?? ""}`);
      if (error) throw error;
      const m = this.routes.match(ctx.method, ctx.path);
      if (m === undefined) throw new PierError("NotFound", "page not found");
      if ("allowed" in m) {
        sendJson(res, 405, { message: "method not allowed" });
        return;
      }
      await m.handler({ ...ctx, res, params: m.params });
    } catch (err) {
      this.fail(res, err);
    }
  }

  private fail(res: ServerResponse, err: unknown): void {
    const { status, message } = errorResponse(err);
    if (status >= 500)
      this.opts.onError?.(`error: ${err instanceof Error ? (err.stack ?? message) : message}`);
    if (!res.headersSent) {
      sendJson(res, status, { message });
    } else if (!res.writableEnded) {
      res.end();
    }
  }

  private async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on("error", () => socket.destroy());
    try {
      const { ctx, error } = this.prepare(req);
      this.opts.log?.(`${ctx.method} ${req.url ?? ""} (upgrade)`);
      if (error) throw error;
      const m = this.upgrades.match(ctx.method, ctx.path);
      if (m === undefined || "allowed" in m) throw new PierError("NotFound", "page not found");
      await m.handler({ ...ctx, params: m.params, socket, head });
    } catch (err) {
      const { status, message } = errorResponse(err);
      if (socket.writable) writeRawError(socket, status, message);
    }
  }
}

function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
}

/** True when something accepts connections on the socket. */
export function answers(socketPath: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(socketPath);
    const done = (v: boolean) => {
      clearTimeout(t);
      s.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(false), timeoutMs);
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}
