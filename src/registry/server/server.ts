/**
 * A registry server: the OCI distribution spec 1.1 over pier's content store.
 *
 *   GET  /v2/                                   API version check (and auth challenge)
 *   HEAD|GET /v2/<name>/manifests/<tag|digest>  pull a manifest (stored media type, Docker-Content-Digest)
 *   PUT  /v2/<name>/manifests/<tag|digest>      push one (every referenced blob/manifest must be in <name>)
 *   DELETE /v2/<name>/manifests/<tag|digest>    delete a tag, or a manifest and its tags
 *   HEAD|GET /v2/<name>/blobs/<digest>          pull a blob (Range → 206)
 *   DELETE /v2/<name>/blobs/<digest>
 *   POST /v2/<name>/blobs/uploads/              start an upload (202 + Location), or
 *        ?digest=<d>                            monolithic upload in one request, or
 *        ?mount=<d>&from=<repo>                 cross-repository mount (201, else 202 to upload)
 *   PATCH /v2/<name>/blobs/uploads/<id>         a chunk (Content-Range start must be the offset, else 416)
 *   PUT  /v2/<name>/blobs/uploads/<id>?digest=  the last chunk (optional) and the digest: verified, then committed
 *   GET  /v2/<name>/blobs/uploads/<id>          upload status (204 + Range)
 *   DELETE /v2/<name>/blobs/uploads/<id>        cancel
 *   GET  /v2/<name>/tags/list?n=&last=          tags, paged with a Link header
 *   GET  /v2/<name>/referrers/<digest>?artifactType=  an image index of the manifests whose subject is <digest>
 *   GET  /v2/_catalog?n=&last=                  repositories (docker's extension)
 *   GET|POST /token                             the token endpoint when auth is "token"
 *
 * Uploads are ingests of the content store (`registry-upload-<uuid>`), hashed as
 * they arrive; a digest that does not match aborts the ingest, so nothing is
 * stored. Which repository holds which blob, manifest and tag is in
 * `Repositories` (SQLite). Errors are the spec's `{"errors":[{code,message,detail}]}`.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { PierError } from "../../common/errors.ts";
import { ContentStore, type IngestWriter } from "../../image/content/store.ts";
import { Digester, digestOf, isDigest, parseDigest } from "../../image/digest.ts";
import type { MetadataStore } from "../../image/store/metadata.ts";
import { putBytes } from "../content.ts";
import { rangeError, REGISTRY_CODES, RegistryError, registryError } from "../errors.ts";
import {
  isRepositoryName,
  isTag,
  MANIFEST_TYPES,
  MEDIA,
  isIndexType,
  type ParsedManifest,
} from "../reference.ts";
import { allows, checkPassword, parseBasic, TokenIssuer, type AuthOptions } from "./auth.ts";
import { Repositories, type RepoManifest } from "./repos.ts";

export interface ServeOptions {
  /**
   * The registry's state directory: its repository database lives in
   * `<root>/registry/registry.db`, and, unless `content` is given, its blobs in
   * a content store at `<root>`.
   */
  root: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
  auth?: AuthOptions;
  /** Share an existing content store (e.g. pier's own) instead of opening one at `root`. */
  content?: ContentStore;
  /** When given, repositories' blobs are GC roots (`registry:<name>`) in pier's metadata. */
  meta?: MetadataStore;
  /** Deletion of manifests, tags and blobs (default true; when false: 405 UNSUPPORTED). */
  deleteEnabled?: boolean;
  /** Largest manifest accepted (default 4 MiB). */
  maxManifestSize?: number;
  /** Uploads untouched for this long are cancelled (default 1 hour). */
  uploadIdleMs?: number;
  /** Called once per request when its answer is sent (an access log). */
  log?: (entry: AccessLogEntry) => void;
}

export interface AccessLogEntry {
  method: string;
  path: string;
  status: number;
  ms: number;
}

export interface RegistryServer {
  /** "127.0.0.1:PORT": what goes in front of a repository name. */
  address: string;
  host: string;
  port: number;
  /** "http://127.0.0.1:PORT". */
  url: string;
  close(): Promise<void>;
}

interface Upload {
  id: string;
  repo: string;
  writer: IngestWriter;
  digester: Digester;
  busy: boolean;
  touched: number;
}

interface Need {
  repo: string;
  actions: string[];
}

const MAX_MANIFEST = 4 * 1024 * 1024;

export async function serve(opts: ServeOptions): Promise<RegistryServer> {
  const ownsContent = opts.content === undefined;
  const content = opts.content ?? (await ContentStore.open(opts.root));
  const repos = new Repositories(join(opts.root, "registry", "registry.db"), opts.meta);
  const r = new Registry(content, repos, opts, ownsContent);
  const server = createServer((req, res) => {
    if (opts.log) {
      const log = opts.log;
      const started = Date.now();
      res.on("finish", () =>
        log({
          method: req.method ?? "",
          path: req.url ?? "",
          status: res.statusCode,
          ms: Date.now() - started,
        }),
      );
    }
    r.handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(req, res, err);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  const host = opts.host ?? "127.0.0.1";
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(opts.port ?? 0, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    repos.close();
    throw new PierError("Unavailable", `registry: listen on ${host}:${opts.port ?? 0}: ${String(err)}`, {
      cause: err,
    });
  }
  const port = (server.address() as AddressInfo).port;
  const sweeper = setInterval(() => void r.sweep(), 60_000);
  sweeper.unref();
  const address = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  let closed: Promise<void> | undefined;
  return {
    address,
    host,
    port,
    url: `http://${address}`,
    close() {
      closed ??= (async () => {
        clearInterval(sweeper);
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await r.abortAll();
        repos.close();
      })();
      return closed;
    },
  };
}

class Registry {
  private readonly uploads = new Map<string, Upload>();
  private readonly issuer: TokenIssuer | undefined;
  private readonly deleteEnabled: boolean;
  private readonly maxManifest: number;

  constructor(
    private readonly content: ContentStore,
    private readonly repos: Repositories,
    private readonly opts: ServeOptions,
    private readonly ownsContent: boolean,
  ) {
    this.issuer = opts.auth?.type === "token" ? new TokenIssuer(opts.auth) : undefined;
    this.deleteEnabled = opts.deleteEnabled ?? true;
    this.maxManifest = opts.maxManifestSize ?? MAX_MANIFEST;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://registry");
    const path = url.pathname;
    const method = req.method ?? "GET";
    res.setHeader("Docker-Distribution-API-Version", "registry/2.0");

    if (path === "/token") return this.token(req, res, url);
    if (path === "/v2" || path === "/v2/") {
      if (!this.authorize(req, res, undefined)) return drain(req);
      return send(req, res, 200, { "Content-Type": "application/json" }, "{}");
    }
    if (path === "/v2/_catalog") {
      if (!this.authorize(req, res, undefined)) return drain(req);
      return this.catalog(req, res, url);
    }
    let m: RegExpExecArray | null;
    let route: (repo: string, arg: string) => Promise<void>;
    let need: (repo: string) => Need;
    const act = (
      method === "GET" || method === "HEAD" ? "pull" : method === "DELETE" ? "delete" : "pull,push"
    ).split(",");
    if ((m = /^\/v2\/(.+)\/tags\/list$/.exec(path))) {
      route = (repo) => this.tags(req, res, repo, url);
      need = (repo) => ({ repo, actions: ["pull"] });
    } else if ((m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path))) {
      route = (repo, ref) => this.manifest(req, res, repo, decode(ref));
      need = (repo) => ({ repo, actions: act });
    } else if ((m = /^\/v2\/(.+)\/blobs\/uploads\/?$/.exec(path))) {
      route = (repo) => this.startUpload(req, res, repo, url);
      need = (repo) => ({ repo, actions: ["pull", "push"] });
    } else if ((m = /^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/.exec(path))) {
      route = (repo, id) => this.upload(req, res, repo, id, url);
      need = (repo) => ({ repo, actions: ["pull", "push"] });
    } else if ((m = /^\/v2\/(.+)\/blobs\/([^/]+)$/.exec(path))) {
      route = (repo, d) => this.blob(req, res, repo, decode(d));
      need = (repo) => ({ repo, actions: act });
    } else if ((m = /^\/v2\/(.+)\/referrers\/([^/]+)$/.exec(path))) {
      route = (repo, d) => this.referrers(req, res, repo, decode(d), url);
      need = (repo) => ({ repo, actions: ["pull"] });
    } else {
      drain(req);
      throw new RegistryError("NotFound", `no route for ${method} ${path}`, { status: 404 });
    }
    const repo = m[1]!;
    if (!isRepositoryName(repo)) {
      drain(req);
      throw registryError("NAME_INVALID", `invalid repository name ${JSON.stringify(repo)}`, { name: repo });
    }
    if (!this.authorize(req, res, need(repo))) return drain(req);
    await route(repo, m[2] ?? "");
  }

  // ---- auth ------------------------------------------------------------------------

  /** True when the request may go on; otherwise the 401 has been sent. */
  private authorize(req: IncomingMessage, res: ServerResponse, need: Need | undefined): boolean {
    const auth = this.opts.auth;
    if (!auth) return true;
    const header = req.headers.authorization;
    if (auth.type === "basic") {
      const creds = parseBasic(header);
      if (creds && checkPassword(auth.users, creds.user, creds.password)) return true;
      res.setHeader("WWW-Authenticate", `Basic realm="${auth.realm ?? "pier"}"`);
      sendError(req, res, registryError("UNAUTHORIZED"));
      return false;
    }
    const issuer = this.issuer!;
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
    const access = bearer ? issuer.verify(bearer[1]!) : undefined;
    if (access && (!need || need.actions.every((a) => allows(access, need.repo, a)))) return true;
    let challenge = `Bearer realm="http://${req.headers.host ?? "127.0.0.1"}/token",service="${issuer.service}"`;
    if (need) challenge += `,scope="repository:${need.repo}:${need.actions.join(",")}"`;
    if (access) challenge += `,error="insufficient_scope"`;
    res.setHeader("WWW-Authenticate", challenge);
    sendError(
      req,
      res,
      registryError(
        "UNAUTHORIZED",
        undefined,
        need ? [{ Type: "repository", Name: need.repo, Action: need.actions.join(",") }] : undefined,
      ),
    );
    return false;
  }

  private async token(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const auth = this.opts.auth;
    if (auth?.type !== "token" || !this.issuer) {
      drain(req);
      throw new RegistryError("NotFound", "this registry has no token endpoint", { status: 404 });
    }
    let user: string | undefined;
    let password: string | undefined;
    let scopes = url.searchParams.getAll("scope");
    if (req.method === "POST") {
      const form = new URLSearchParams((await readBody(req, 64 * 1024)).toString("utf8"));
      user = form.get("username") ?? undefined;
      password = form.get("password") ?? undefined;
      scopes = (form.get("scope") ?? "").split(" ").filter((s) => s !== "");
    } else {
      drain(req);
      const creds = parseBasic(req.headers.authorization);
      user = creds?.user;
      password = creds?.password;
    }
    if (user !== undefined && !checkPassword(auth.users, user, password ?? "")) {
      throw registryError("UNAUTHORIZED", "invalid username or password");
    }
    const { token, expiresIn } = this.issuer.issue(user, scopes);
    send(
      req,
      res,
      200,
      { "Content-Type": "application/json" },
      JSON.stringify({
        token,
        access_token: token,
        expires_in: expiresIn,
        issued_at: new Date().toISOString(),
      }),
    );
  }

  // ---- manifests -------------------------------------------------------------------

  private async manifest(
    req: IncomingMessage,
    res: ServerResponse,
    repo: string,
    ref: string,
  ): Promise<void> {
    const method = req.method ?? "GET";
    if (method === "PUT") return this.putManifest(req, res, repo, ref);
    drain(req);
    if (method === "DELETE") return this.deleteManifest(req, res, repo, ref);
    if (method !== "GET" && method !== "HEAD") throw registryError("UNSUPPORTED", `${method} on a manifest`);
    const digest = isDigest(ref) ? ref : isTag(ref) ? this.repos.resolveTag(repo, ref) : undefined;
    const m = digest === undefined ? undefined : this.repos.getManifest(repo, digest);
    if (!m)
      throw registryError("MANIFEST_UNKNOWN", `manifest ${repo}:${ref} unknown`, {
        name: repo,
        reference: ref,
      });
    let data: Buffer;
    try {
      data = await this.content.read(m.digest, { maxSize: this.maxManifest });
    } catch (err) {
      throw registryError("MANIFEST_UNKNOWN", `manifest ${m.digest}: ${errMessage(err)}`);
    }
    send(
      req,
      res,
      200,
      { "Content-Type": m.mediaType, "Docker-Content-Digest": m.digest, ETag: `"${m.digest}"` },
      data,
    );
  }

  private async putManifest(
    req: IncomingMessage,
    res: ServerResponse,
    repo: string,
    ref: string,
  ): Promise<void> {
    const byDigest = isDigest(ref);
    if (!byDigest && !isTag(ref)) {
      drain(req);
      throw registryError("TAG_INVALID", `invalid tag ${JSON.stringify(ref)}`);
    }
    const body = await readBody(req, this.maxManifest).catch((err: unknown) => {
      throw err instanceof RegistryError
        ? registryError("SIZE_INVALID", `manifest larger than ${this.maxManifest} bytes`)
        : err;
    });
    let parsed: ParsedManifest & { schemaVersion?: number };
    try {
      parsed = JSON.parse(body.toString("utf8")) as ParsedManifest & { schemaVersion?: number };
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
        throw new Error("not an object");
    } catch (err) {
      throw registryError("MANIFEST_INVALID", `manifest is not JSON: ${errMessage(err)}`);
    }
    const header = (req.headers["content-type"] ?? "").split(";")[0]!.trim();
    const mediaType = parsed.mediaType ?? header;
    if (parsed.mediaType !== undefined && header !== "" && header !== parsed.mediaType) {
      throw registryError(
        "MANIFEST_INVALID",
        `Content-Type ${header} differs from the manifest's mediaType ${parsed.mediaType}`,
      );
    }
    if (!MANIFEST_TYPES.includes(mediaType)) {
      throw registryError("MANIFEST_INVALID", `unsupported manifest media type ${JSON.stringify(mediaType)}`);
    }
    if (parsed.schemaVersion !== 2) throw registryError("MANIFEST_INVALID", "schemaVersion must be 2");
    const algorithm = byDigest ? parseDigest(ref).algorithm : "sha256";
    const digest = digestOf(body, algorithm);
    if (byDigest && digest !== ref) {
      throw registryError("DIGEST_INVALID", `manifest digest is ${digest}, not ${ref}`, { digest: ref });
    }
    const missing: string[] = [];
    const validDesc = (d: unknown): d is { digest: string; size: number; mediaType: string } =>
      typeof d === "object" &&
      d !== null &&
      typeof (d as { digest?: unknown }).digest === "string" &&
      isDigest((d as { digest: string }).digest) &&
      Number.isSafeInteger((d as { size?: unknown }).size);
    if (isIndexType(mediaType)) {
      if (!Array.isArray(parsed.manifests))
        throw registryError("MANIFEST_INVALID", "an index needs manifests");
      for (const d of parsed.manifests) {
        if (!validDesc(d)) throw registryError("MANIFEST_INVALID", "invalid descriptor in manifests");
        if (!this.repos.hasManifest(repo, d.digest)) missing.push(d.digest);
      }
    } else {
      if (!validDesc(parsed.config))
        throw registryError("MANIFEST_INVALID", "a manifest needs a config descriptor");
      if (!Array.isArray(parsed.layers)) throw registryError("MANIFEST_INVALID", "a manifest needs layers");
      for (const d of [parsed.config, ...parsed.layers]) {
        if (!validDesc(d)) throw registryError("MANIFEST_INVALID", "invalid descriptor in layers");
        if (!this.repos.hasBlob(repo, d.digest) || !(await this.content.has(d.digest)))
          missing.push(d.digest);
      }
    }
    if (parsed.subject !== undefined && !validDesc(parsed.subject)) {
      throw registryError("MANIFEST_INVALID", "invalid subject descriptor");
    }
    if (missing.length > 0) {
      throw registryError(
        "MANIFEST_BLOB_UNKNOWN",
        `manifest references ${missing.length} blob(s) unknown to ${repo}: ${missing.join(", ")}`,
        missing.map((d) => ({ digest: d })),
      );
    }
    await putBytes(this.content, body, digest);
    const rec: RepoManifest = { digest, mediaType, size: body.length };
    const artifactType =
      parsed.artifactType ?? (isIndexType(mediaType) ? undefined : parsed.config?.mediaType);
    if (artifactType !== undefined) rec.artifactType = artifactType;
    if (parsed.subject) rec.subject = parsed.subject.digest;
    if (parsed.annotations) rec.annotations = parsed.annotations;
    this.repos.putManifest(repo, rec, byDigest ? undefined : ref);
    const headers: Record<string, string> = {
      Location: `/v2/${repo}/manifests/${digest}`,
      "Docker-Content-Digest": digest,
    };
    if (parsed.subject) headers["OCI-Subject"] = parsed.subject.digest;
    send(req, res, 201, headers);
  }

  private async deleteManifest(
    req: IncomingMessage,
    res: ServerResponse,
    repo: string,
    ref: string,
  ): Promise<void> {
    if (!this.deleteEnabled) throw registryError("UNSUPPORTED", "deletion is disabled on this registry");
    if (isDigest(ref)) {
      if (!this.repos.deleteManifest(repo, ref))
        throw registryError("MANIFEST_UNKNOWN", `manifest ${ref} unknown`);
      await this.dropContent(ref);
    } else if (!isTag(ref) || !this.repos.deleteTag(repo, ref)) {
      throw registryError("MANIFEST_UNKNOWN", `tag ${repo}:${ref} unknown`);
    }
    send(req, res, 202);
  }

  // ---- blobs -------------------------------------------------------------------------

  private async blob(req: IncomingMessage, res: ServerResponse, repo: string, digest: string): Promise<void> {
    drain(req);
    const method = req.method ?? "GET";
    if (!isDigest(digest)) throw registryError("DIGEST_INVALID", `invalid digest ${JSON.stringify(digest)}`);
    if (method === "DELETE") {
      if (!this.deleteEnabled) throw registryError("UNSUPPORTED", "deletion is disabled on this registry");
      if (!this.repos.unlinkBlob(repo, digest)) throw registryError("BLOB_UNKNOWN", `blob ${digest} unknown`);
      await this.dropContent(digest);
      return send(req, res, 202);
    }
    if (method !== "GET" && method !== "HEAD") throw registryError("UNSUPPORTED", `${method} on a blob`);
    const known = this.repos.hasBlob(repo, digest) || this.repos.hasManifest(repo, digest);
    const info = known ? await this.content.info(digest).catch(() => undefined) : undefined;
    if (!info) throw registryError("BLOB_UNKNOWN", `blob ${digest} unknown to ${repo}`, { digest });
    const headers: Record<string, string> = {
      "Content-Type": "application/octet-stream",
      "Docker-Content-Digest": digest,
      "Accept-Ranges": "bytes",
      ETag: `"${digest}"`,
    };
    const range = parseRange(req.headers.range, info.size);
    if (range === "invalid") {
      res.setHeader("Content-Range", `bytes */${info.size}`);
      throw rangeError(`range ${req.headers.range} not satisfiable for ${info.size} bytes`);
    }
    let status = 200;
    let start = 0;
    let end = info.size - 1;
    if (range) {
      status = 206;
      [start, end] = range;
      headers["Content-Range"] = `bytes ${start}-${end}/${info.size}`;
    }
    headers["Content-Length"] = String(Math.max(0, end - start + 1));
    res.writeHead(status, headers);
    if (method === "HEAD" || info.size === 0) return void res.end();
    const stream = await this.content.reader(digest, { start, end });
    stream.on("error", () => res.destroy());
    res.on("close", () => stream.destroy());
    stream.pipe(res);
  }

  /** Removes bytes nothing refers to any more, when this registry owns its content store. */
  private async dropContent(digest: string): Promise<void> {
    if (!this.ownsContent || this.repos.referenced(digest)) return;
    await this.content.delete(digest).catch(() => undefined);
  }

  // ---- uploads ---------------------------------------------------------------------

  private async startUpload(
    req: IncomingMessage,
    res: ServerResponse,
    repo: string,
    url: URL,
  ): Promise<void> {
    if (req.method !== "POST") {
      drain(req);
      throw registryError("UNSUPPORTED", `${req.method} on the uploads endpoint`);
    }
    const mount = url.searchParams.get("mount");
    const from = url.searchParams.get("from");
    if (
      mount !== null &&
      from !== null &&
      isDigest(mount) &&
      isRepositoryName(from) &&
      this.mayPull(req, from)
    ) {
      if (this.repos.hasBlob(from, mount) && (await this.content.has(mount))) {
        drain(req);
        this.repos.linkBlob(repo, mount);
        return send(req, res, 201, {
          Location: `/v2/${repo}/blobs/${mount}`,
          "Docker-Content-Digest": mount,
        });
      }
    }
    const digest = url.searchParams.get("digest");
    if (digest !== null) {
      if (!isDigest(digest)) {
        drain(req);
        throw registryError("DIGEST_INVALID", `invalid digest ${JSON.stringify(digest)}`);
      }
      const length = contentLength(req);
      const w = await this.content.writer(`registry-upload-${randomUUID()}`, {
        expected: digest,
        ...(length === undefined ? {} : { total: length }),
      });
      try {
        for await (const chunk of req as AsyncIterable<Buffer>) await w.write(chunk);
      } catch (err) {
        await w.abort();
        throw bodyError(err);
      }
      try {
        await w.commit();
      } catch (err) {
        throw err instanceof PierError && err.kind === "InvalidArgument"
          ? registryError("DIGEST_INVALID", `upload does not match ${digest}`, { digest })
          : err;
      }
      this.repos.linkBlob(repo, digest);
      return send(req, res, 201, {
        Location: `/v2/${repo}/blobs/${digest}`,
        "Docker-Content-Digest": digest,
      });
    }
    drain(req);
    const id = randomUUID();
    const writer = await this.content.writer(`registry-upload-${id}`);
    this.uploads.set(id, {
      id,
      repo,
      writer,
      digester: new Digester("sha256"),
      busy: false,
      touched: Date.now(),
    });
    send(req, res, 202, uploadHeaders(repo, id, 0));
  }

  private mayPull(req: IncomingMessage, repo: string): boolean {
    const auth = this.opts.auth;
    if (auth?.type !== "token") return true;
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
    const access = bearer ? this.issuer?.verify(bearer[1]!) : undefined;
    return access !== undefined && allows(access, repo, "pull");
  }

  private async upload(
    req: IncomingMessage,
    res: ServerResponse,
    repo: string,
    id: string,
    url: URL,
  ): Promise<void> {
    const method = req.method ?? "GET";
    const u = this.uploads.get(id);
    if (!u || u.repo !== repo) {
      drain(req);
      throw registryError("BLOB_UPLOAD_UNKNOWN", `upload ${id} unknown`);
    }
    if (u.busy) {
      drain(req);
      res.setHeader("Range", rangeHeader(u.writer.offset));
      throw rangeError(`upload ${id} is receiving another request`);
    }
    u.touched = Date.now();
    if (method === "GET") {
      drain(req);
      return send(req, res, 204, uploadHeaders(repo, id, u.writer.offset));
    }
    if (method === "DELETE") {
      drain(req);
      this.uploads.delete(id);
      await u.writer.abort();
      return send(req, res, 204);
    }
    if (method !== "PATCH" && method !== "PUT") {
      drain(req);
      throw registryError("UNSUPPORTED", `${method} on an upload`);
    }
    u.busy = true;
    try {
      await this.receiveChunk(req, res, u);
      if (method === "PATCH") return send(req, res, 202, uploadHeaders(repo, id, u.writer.offset));
      const digest = url.searchParams.get("digest");
      if (digest === null || !isDigest(digest)) {
        throw registryError("DIGEST_INVALID", "PUT needs ?digest=<digest> of the whole blob");
      }
      const actual = u.digester.digest();
      this.uploads.delete(id);
      if (actual !== digest) {
        await u.writer.abort();
        throw registryError("DIGEST_INVALID", `upload has digest ${actual}, not ${digest}`, { digest });
      }
      await u.writer.commit();
      this.repos.linkBlob(repo, digest);
      send(req, res, 201, { Location: `/v2/${repo}/blobs/${digest}`, "Docker-Content-Digest": digest });
    } finally {
      u.busy = false;
      u.touched = Date.now();
    }
  }

  /** Appends the request body to the upload, checking Content-Range against the offset. */
  private async receiveChunk(req: IncomingMessage, res: ServerResponse, u: Upload): Promise<void> {
    const cr = req.headers["content-range"];
    const length = contentLength(req);
    if (cr !== undefined) {
      const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(cr.trim());
      const start = m ? Number(m[1]) : -1;
      const end = m ? Number(m[2]) : -1;
      if (
        !m ||
        start !== u.writer.offset ||
        end < start ||
        (length !== undefined && end - start + 1 !== length)
      ) {
        drain(req);
        res.setHeader("Location", `/v2/${u.repo}/blobs/uploads/${u.id}`);
        res.setHeader("Range", rangeHeader(u.writer.offset));
        res.setHeader("Docker-Upload-UUID", u.id);
        throw rangeError(`chunk ${cr} does not continue the upload at offset ${u.writer.offset}`);
      }
    }
    let got = 0;
    try {
      for await (const chunk of req as AsyncIterable<Buffer>) {
        await u.writer.write(chunk);
        u.digester.update(chunk);
        got += chunk.length;
      }
    } catch (err) {
      this.uploads.delete(u.id);
      await u.writer.abort();
      throw bodyError(err);
    }
    if (length !== undefined && got !== length) {
      this.uploads.delete(u.id);
      await u.writer.abort();
      throw registryError("SIZE_INVALID", `got ${got} bytes, Content-Length said ${length}`);
    }
  }

  async sweep(): Promise<void> {
    const cutoff = Date.now() - (this.opts.uploadIdleMs ?? 3_600_000);
    for (const u of [...this.uploads.values()]) {
      if (u.busy || u.touched > cutoff) continue;
      this.uploads.delete(u.id);
      await u.writer.abort().catch(() => undefined);
    }
  }

  async abortAll(): Promise<void> {
    for (const u of [...this.uploads.values()]) {
      this.uploads.delete(u.id);
      await u.writer.abort().catch(() => undefined);
    }
  }

  // ---- discovery ---------------------------------------------------------------------

  private async tags(req: IncomingMessage, res: ServerResponse, repo: string, url: URL): Promise<void> {
    drain(req);
    if (req.method !== "GET" && req.method !== "HEAD")
      throw registryError("UNSUPPORTED", `${req.method} on tags`);
    const n = pageSize(url);
    const last = url.searchParams.get("last") ?? undefined;
    if (!this.repos.exists(repo))
      throw registryError("NAME_UNKNOWN", `repository ${repo} unknown`, { name: repo });
    const page = this.repos.tags(repo, {
      ...(n === undefined ? {} : { n }),
      ...(last === undefined ? {} : { last }),
    });
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    const lastTag = page.tags[page.tags.length - 1];
    if (page.more && lastTag !== undefined) {
      headers.Link = `</v2/${repo}/tags/list?n=${n}&last=${encodeURIComponent(lastTag)}>; rel="next"`;
    }
    send(req, res, 200, headers, JSON.stringify({ name: repo, tags: page.tags }));
  }

  private async catalog(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    drain(req);
    const n = pageSize(url);
    const last = url.searchParams.get("last") ?? undefined;
    const page = this.repos.repositories({
      ...(n === undefined ? {} : { n }),
      ...(last === undefined ? {} : { last }),
    });
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    const lastRepo = page.repos[page.repos.length - 1];
    if (page.more && lastRepo !== undefined) {
      headers.Link = `</v2/_catalog?n=${n}&last=${encodeURIComponent(lastRepo)}>; rel="next"`;
    }
    send(req, res, 200, headers, JSON.stringify({ repositories: page.repos }));
  }

  private async referrers(
    req: IncomingMessage,
    res: ServerResponse,
    repo: string,
    digest: string,
    url: URL,
  ): Promise<void> {
    drain(req);
    if (req.method !== "GET" && req.method !== "HEAD")
      throw registryError("UNSUPPORTED", `${req.method} on referrers`);
    if (!isDigest(digest)) throw registryError("DIGEST_INVALID", `invalid digest ${JSON.stringify(digest)}`);
    const filter = url.searchParams.get("artifactType");
    let list = this.repos.referrers(repo, digest);
    const headers: Record<string, string> = { "Content-Type": MEDIA.ociIndex };
    if (filter !== null) {
      list = list.filter((m) => m.artifactType === filter);
      headers["OCI-Filters-Applied"] = "artifactType";
    }
    const manifests = list.map((m) => ({
      mediaType: m.mediaType,
      digest: m.digest,
      size: m.size,
      ...(m.artifactType === undefined ? {} : { artifactType: m.artifactType }),
      ...(m.annotations === undefined ? {} : { annotations: m.annotations }),
    }));
    send(req, res, 200, headers, JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests }));
  }
}

// ---- helpers -------------------------------------------------------------------------

function uploadHeaders(repo: string, id: string, offset: number): Record<string, string> {
  return {
    Location: `/v2/${repo}/blobs/uploads/${id}`,
    "Docker-Upload-UUID": id,
    Range: rangeHeader(offset),
  };
}

function rangeHeader(offset: number): string {
  return `0-${Math.max(0, offset - 1)}`;
}

function pageSize(url: URL): number | undefined {
  const n = url.searchParams.get("n");
  if (n === null) return undefined;
  if (!/^\d+$/.test(n)) throw new RegistryError("InvalidArgument", `invalid n=${n}`, { status: 400 });
  return Number(n);
}

function contentLength(req: IncomingMessage): number | undefined {
  const v = req.headers["content-length"];
  return v === undefined || !/^\d+$/.test(v) ? undefined : Number(v);
}

/** [start, end] inclusive, undefined for the whole blob, "invalid" when unsatisfiable. */
function parseRange(header: string | undefined, size: number): [number, number] | undefined | "invalid" {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return "invalid";
  let start: number;
  let end: number;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return "invalid";
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || end < start) return "invalid";
  return [start, end];
}

function bodyError(err: unknown): unknown {
  if (err instanceof PierError && (err.kind === "InvalidArgument" || err.kind === "ResourceExhausted")) {
    return registryError("SIZE_INVALID", err.message);
  }
  return err;
}

async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) {
      req.destroy();
      throw registryError("SIZE_INVALID", `request body larger than ${max} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Lets an unread request body flow away so that the connection can be reused. */
function drain(req: IncomingMessage): void {
  if (!req.complete) req.resume();
}

function send(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  headers: Record<string, string> = {},
  body?: string | Buffer,
): void {
  const data = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
  res.writeHead(status, { ...headers, "Content-Length": String(data?.length ?? 0) });
  res.end(req.method === "HEAD" ? undefined : data);
}

function sendError(req: IncomingMessage, res: ServerResponse, err: unknown): void {
  let status = 500;
  let code = "UNKNOWN";
  let message = errMessage(err);
  let detail: unknown;
  if (err instanceof RegistryError) {
    status = err.status;
    code = err.registryCode ?? (status === 404 ? "NOT_FOUND" : "UNKNOWN");
    detail = err.detail;
  } else if (err instanceof PierError) {
    const map: Partial<Record<string, [number, string]>> = {
      NotFound: [404, "BLOB_UNKNOWN"],
      InvalidArgument: [400, "DIGEST_INVALID"],
      ResourceExhausted: [400, "SIZE_INVALID"],
      NotImplemented: [405, "UNSUPPORTED"],
      Unavailable: [503, "UNAVAILABLE"],
    };
    const hit = map[err.kind];
    if (hit) [status, code] = hit;
  } else {
    message = "internal error";
  }
  if (code in REGISTRY_CODES && status === 500)
    status = REGISTRY_CODES[code as keyof typeof REGISTRY_CODES].status;
  drain(req);
  send(
    req,
    res,
    status,
    { "Content-Type": "application/json" },
    JSON.stringify({ errors: [{ code, message, detail: detail ?? null }] }),
  );
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new RegistryError("InvalidArgument", `malformed path component ${JSON.stringify(s)}`, {
      status: 400,
    });
  }
}
