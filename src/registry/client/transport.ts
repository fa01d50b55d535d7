/**
 * HTTP to one registry, with its authentication handled the way docker does it:
 * a request answered with 401 is retried once with what the `WWW-Authenticate`
 * challenge asks for —
 *
 *   Basic   the user's credentials (sent up front from then on);
 *   Bearer  a token from the challenge's realm, asked for the challenge's scope
 *           plus the scopes the caller said it needs (a push that mounts from
 *           another repository needs `pull` there too), with the user's
 *           credentials as Basic auth if there are any, anonymously if not.
 *
 * Tokens are cached per scope set. Credentials come from a docker-style
 * config.json `auths` map: `{"<registry>": {"auth": base64("user:pass")}}`
 * (or `username`/`password`). Plain http is used only for localhost,
 * 127.0.0.1, ::1 and registries listed as insecure; https for the rest.
 * Every request has an inactivity timeout; failures are PierErrors
 * (RegistryError when the registry answered) that say which request failed.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import https from "node:https";
import type { Readable } from "node:stream";
import { PierError } from "../../common/errors.ts";
import { isRegistryCode, kindOfStatus, REGISTRY_CODES, RegistryError } from "../errors.ts";
import { DEFAULT_REGISTRY, DOCKER_HUB_ENDPOINT } from "../reference.ts";

/** One entry of config.json's `auths`. */
export interface AuthEntry {
  /** base64("user:password"). */
  auth?: string;
  username?: string;
  password?: string;
}

export interface TransportOptions {
  auths?: Record<string, AuthEntry>;
  /** Registries (host[:port]) that may be reached over plain http. */
  insecure?: readonly string[];
  /** Inactivity timeout of every request (default 30 s). */
  timeoutMs?: number;
  userAgent?: string;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** A body; a function is called again when the request must be retried. */
  body?: Buffer | (() => Readable);
  /** Scopes this request needs a bearer token for ("repository:x:pull,push"). */
  scopes?: readonly string[];
  /** Follow redirects (GET/HEAD only; default true). */
  follow?: boolean;
}

export interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  url: URL;
  /** The body stream; read it or call `discard`. */
  body: IncomingMessage;
}

const LOCAL = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

/** Whether plain http may be used for `registry`. */
export function allowsHttp(registry: string, insecure: readonly string[] = []): boolean {
  const host = registry.replace(/:\d+$/, "");
  return LOCAL.has(host) || insecure.includes(registry) || insecure.includes(host);
}

/** user/password for a registry from an `auths` map (keys may be URLs, as docker writes them). */
export function credentialsFor(
  auths: Record<string, AuthEntry> | undefined,
  registry: string,
): { username: string; password: string } | undefined {
  if (!auths) return undefined;
  const keys = [registry, `https://${registry}`, `http://${registry}`];
  if (registry === DEFAULT_REGISTRY)
    keys.push("https://index.docker.io/v1/", "index.docker.io", DOCKER_HUB_ENDPOINT);
  for (const [k, v] of Object.entries(auths)) {
    const host = k.replace(/^https?:\/\//, "").replace(/\/.*$/, "");
    if (!keys.includes(k) && host !== registry) continue;
    if (v.username !== undefined && v.password !== undefined)
      return { username: v.username, password: v.password };
    if (v.auth !== undefined) {
      const s = Buffer.from(v.auth, "base64").toString("utf8");
      const colon = s.indexOf(":");
      if (colon < 0)
        throw new PierError(
          "InvalidArgument",
          `credentials for ${registry}: auth is not base64("user:pass")`,
        );
      return { username: s.slice(0, colon), password: s.slice(colon + 1) };
    }
  }
  return undefined;
}

export class Transport {
  readonly registry: string;
  readonly base: URL;
  private readonly creds: { username: string; password: string } | undefined;
  private readonly timeoutMs: number;
  private readonly userAgent: string;
  private readonly agent: http.Agent;
  private basic = false;
  private readonly tokens = new Map<string, string>();

  constructor(registry: string, opts: TransportOptions = {}) {
    this.registry = registry;
    const endpoint = registry === DEFAULT_REGISTRY ? DOCKER_HUB_ENDPOINT : registry;
    const scheme = allowsHttp(registry, opts.insecure) ? "http" : "https";
    this.base = new URL(`${scheme}://${endpoint}`);
    this.creds = credentialsFor(opts.auths, registry);
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.userAgent = opts.userAgent ?? "pier";
    this.agent =
      scheme === "https" ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
  }

  close(): void {
    this.agent.destroy();
  }

  /** Sends a request, answering one auth challenge; the response may have any status. */
  async request(method: string, target: string | URL, opts: RequestOptions = {}): Promise<Response> {
    let url = typeof target === "string" ? new URL(target, this.base) : target;
    const scopes = [...(opts.scopes ?? [])].sort();
    let challenged = false;
    for (let redirects = 0; ;) {
      const headers: Record<string, string> = { "User-Agent": this.userAgent, ...opts.headers };
      const sameHost = url.host === this.base.host;
      if (sameHost) {
        const token = this.tokens.get(scopes.join(" "));
        if (token !== undefined) headers.Authorization = `Bearer ${token}`;
        else if (this.basic && this.creds) headers.Authorization = basicHeader(this.creds);
      }
      const body = typeof opts.body === "function" ? opts.body() : opts.body;
      const res = await this.send(method, url, headers, body);
      if (res.status === 401 && sameHost && !challenged) {
        challenged = true;
        const challenge = res.headers["www-authenticate"];
        await discard(res);
        if (await this.answer(challenge, scopes)) continue;
        throw new RegistryError(
          "PermissionDenied",
          `${method} ${url.pathname} on ${this.registry}: authentication required`,
          {
            status: 401,
            registryCode: "UNAUTHORIZED",
            hint: `log in to ${this.registry} first`,
          },
        );
      }
      if (
        [301, 302, 303, 307, 308].includes(res.status) &&
        (opts.follow ?? true) &&
        (method === "GET" || method === "HEAD")
      ) {
        const loc = res.headers.location;
        await discard(res);
        if (loc === undefined || ++redirects > 5) {
          throw new PierError("Unavailable", `${method} ${url}: too many or empty redirects`);
        }
        url = new URL(loc, url);
        continue;
      }
      return res;
    }
  }

  /** Like request, but a status outside `ok` becomes an error named after `what`. */
  async expect(
    method: string,
    target: string | URL,
    ok: number[],
    what: string,
    opts: RequestOptions = {},
  ): Promise<Response> {
    const res = await this.request(method, target, opts);
    if (ok.includes(res.status)) return res;
    throw await errorOf(res, what, method === "HEAD");
  }

  /** Sets up credentials for a challenge; false when nothing can be done. */
  private async answer(challenge: string | undefined, scopes: string[]): Promise<boolean> {
    const c = parseChallenge(challenge);
    if (!c) return false;
    if (c.scheme === "basic") {
      // Concurrent requests may all be challenged before the first retries:
      // each retries once with the credentials (a second 401 is final).
      if (!this.creds) return false;
      this.basic = true;
      return true;
    }
    const realm = c.params.realm;
    if (realm === undefined) return false;
    const url = new URL(realm);
    if (url.protocol === "http:" && !allowsHttp(url.host) && this.base.protocol === "https:") {
      throw new PierError(
        "PermissionDenied",
        `${this.registry}: refusing to send credentials to ${realm} over plain http`,
      );
    }
    if (c.params.service !== undefined) url.searchParams.set("service", c.params.service);
    const wanted = new Set(scopes);
    if (c.params.scope !== undefined) for (const s of c.params.scope.split(" ")) if (s) wanted.add(s);
    for (const s of wanted) url.searchParams.append("scope", s);
    const headers: Record<string, string> = { "User-Agent": this.userAgent };
    if (this.creds) headers.Authorization = basicHeader(this.creds);
    const res = await this.send("GET", url, headers, undefined);
    if (res.status !== 200) throw await errorOf(res, `get a token from ${url.origin}${url.pathname}`, false);
    const json = JSON.parse((await readAll(res, 1 << 20)).toString("utf8")) as {
      token?: string;
      access_token?: string;
    };
    const token = json.token ?? json.access_token;
    if (!token) throw new PierError("Unavailable", `token endpoint ${realm} returned no token`);
    this.tokens.set(scopes.join(" "), token);
    return true;
  }

  private send(
    method: string,
    url: URL,
    headers: Record<string, string>,
    body: Buffer | Readable | undefined,
  ): Promise<Response> {
    const mod = url.protocol === "https:" ? https : http;
    if (Buffer.isBuffer(body)) headers["Content-Length"] = String(body.length);
    else if (body === undefined && method !== "GET" && method !== "HEAD") headers["Content-Length"] ??= "0";
    return new Promise<Response>((resolve, reject) => {
      const req = mod.request(url, {
        method,
        headers,
        ...(url.host === this.base.host && url.protocol === this.base.protocol ? { agent: this.agent } : {}),
      });
      req.setTimeout(this.timeoutMs, () => {
        req.destroy(
          new PierError("Unavailable", `${method} ${url}: no answer for ${this.timeoutMs / 1000} s`, {
            hint: "check that the registry is up, or raise the timeout",
          }),
        );
      });
      req.on("error", (err) => {
        if (err instanceof PierError) return reject(err);
        const code = (err as NodeJS.ErrnoException).code ?? "";
        reject(
          new PierError("Unavailable", `${method} ${url}: ${err.message}`, {
            cause: err,
            ...(code === "ECONNREFUSED" ? { hint: `is a registry listening at ${url.host}?` } : {}),
          }),
        );
      });
      req.on("response", (res) =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, url, body: res }),
      );
      if (body === undefined || Buffer.isBuffer(body)) req.end(body);
      else {
        body.on("error", (err) => req.destroy(err));
        body.pipe(req);
      }
    });
  }
}

function basicHeader(c: { username: string; password: string }): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}`;
}

export function parseChallenge(
  header: string | undefined,
): { scheme: "basic" | "bearer"; params: Record<string, string> } | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/.exec(header);
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  if (scheme !== "basic" && scheme !== "bearer") return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params[p[1]!.toLowerCase()] = p[2] ?? p[3] ?? "";
  }
  return { scheme, params };
}

export async function discard(res: Response): Promise<void> {
  res.body.resume();
  await new Promise<void>((resolve) => {
    if (res.body.complete || res.body.destroyed) return resolve();
    res.body.on("end", resolve);
    res.body.on("close", resolve);
    res.body.on("error", () => resolve());
  });
}

export async function readAll(res: Response, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of res.body as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > max) {
      res.body.destroy();
      throw new PierError("ResourceExhausted", `${res.url}: response larger than ${max} bytes`);
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** The error a registry's answer stands for, from its `{"errors":[…]}` body when it has one. */
export async function errorOf(res: Response, what: string, head: boolean): Promise<RegistryError> {
  let code: string | undefined;
  let message: string | undefined;
  let detail: unknown;
  if (!head) {
    try {
      const body = JSON.parse((await readAll(res, 64 * 1024)).toString("utf8")) as {
        errors?: { code?: string; message?: string; detail?: unknown }[];
      };
      const e = body.errors?.[0];
      code = e?.code;
      message = e?.message;
      detail = e?.detail;
    } catch {
      // not a spec error body
    }
  } else {
    await discard(res);
  }
  const known = isRegistryCode(code) ? code : undefined;
  const kind = known ? REGISTRY_CODES[known].kind : kindOfStatus(res.status);
  const text = `${what}: ${res.status}${code ? ` ${code}` : ""}${message ? `: ${message}` : ""}`;
  return new RegistryError(kind, text, {
    status: res.status,
    ...(known ? { registryCode: known } : {}),
    detail,
  });
}
