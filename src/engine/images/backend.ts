/**
 * The ImageBackend over pier's real image layer: ImageService for the local store,
 * RegistryClient for pull/push, the archive module for save/load/import and the
 * bootstrap module for base images. pierd builds one of these (src/cmd/pierd.ts).
 *
 *   const b = await ServiceImageBackend.open("/var/lib/pier", { insecure: ["reg:5000"] });
 *   await b.pull("127.0.0.1:5000/bb:1", {}, (e) => log(e));
 *   await b.close();
 *
 * Credentials: the docker-style `auths` of config.json (read at each pull/push, so a
 * `pier login` takes effect at once), overridden by what the client sent in
 * X-Registry-Auth. Plain http only for localhost/127.0.0.1/::1 and `insecure`.
 *
 * Records cross the boundary in one direction: ImageService's docker-cased shapes are
 * turned into the API's records here, and nowhere else.
 */
import { Readable } from "node:stream";
import { invalid, notImplemented } from "../../common/errors.ts";
import type {
  HistoryEntry,
  ImageBackend,
  ImageDetail,
  ImageInfo,
  LoadResult,
  ProgressEvent,
  ProgressSink,
  PullResult,
  PushResult,
  RegistryAuth,
  RemovedItem,
} from "../../api/backend.ts";
import { parseReference as parseApiReference } from "../../api/reference.ts";
import { importRootfs, load, saveStream } from "../../image/archive/index.ts";
import { bootstrapBusybox, bootstrapDebian } from "../../image/bootstrap/index.ts";
import { collectGarbage } from "../../image/gc.ts";
import { ImageService, normalizeReference, type ImageServiceOptions } from "../../image/service/index.ts";
import { RegistryClient, type AuthEntry, type Platform } from "../../registry/client/index.ts";
import type { ProgressEvent as RegistryProgress } from "../../registry/client/index.ts";
import { loadAuths } from "./credentials.ts";

export interface ServiceBackendOptions extends ImageServiceOptions {
  /** Registries (host[:port]) reachable over plain http besides localhost. */
  insecure?: readonly string[];
  /** Where config.json's `auths` come from (default: $DOCKER_CONFIG or ~/.docker). */
  authsFile?: string;
  /** Grace period of the blob GC run after a delete (default 0: unreferenced blobs go at once). */
  gcGraceMs?: number;
}

const PULL_STATUS: Record<RegistryProgress["status"], string> = {
  waiting: "Waiting",
  exists: "Already exists",
  mounted: "Mounted",
  downloading: "Downloading",
  uploading: "Pushing",
  done: "Pull complete",
  failed: "Failed",
};
const PUSH_STATUS: Record<RegistryProgress["status"], string> = {
  ...PULL_STATUS,
  exists: "Layer already exists",
  mounted: "Mounted from another repository",
  done: "Pushed",
  waiting: "Preparing",
};

function mapProgress(e: RegistryProgress, table: Record<RegistryProgress["status"], string>): ProgressEvent {
  const out: ProgressEvent = { id: e.id, status: table[e.status] };
  if (e.status === "downloading" || e.status === "uploading") {
    out.current = e.current;
    out.total = e.total;
  }
  return out;
}

/** Refs that are not image ids must be valid references (InvalidArgument, as docker says). */
function checkRef(ref: string): void {
  if (/^(sha256:)?[0-9a-f]{4,64}$/.test(ref)) return;
  parseApiReference(ref);
}

function parsePlatform(p: string | undefined): Platform | undefined {
  if (!p) return undefined;
  const [os, architecture, variant] = p.split("/");
  if (!os || !architecture) throw invalid(`invalid platform: ${p} (want os/arch[/variant])`);
  return variant ? { os, architecture, variant } : { os, architecture };
}

export class ServiceImageBackend implements ImageBackend {
  private constructor(
    readonly service: ImageService,
    private readonly opts: ServiceBackendOptions,
  ) {}

  static async open(root: string, opts: ServiceBackendOptions = {}): Promise<ServiceImageBackend> {
    const svcOpts: ImageServiceOptions = opts.snapshotter ? { snapshotter: opts.snapshotter } : {};
    return new ServiceImageBackend(await ImageService.open(root, svcOpts), opts);
  }

  async close(): Promise<void> {
    await this.service.close();
  }

  // ---- local images --------------------------------------------------------

  async list(): Promise<ImageInfo[]> {
    return (await this.service.list()).map((s) => ({
      id: s.Id,
      names: s.RepoTags,
      repoDigests: s.RepoDigests,
      created: new Date(s.Created * 1000),
      size: s.Size,
      labels: s.Labels,
    }));
  }

  async inspect(ref: string): Promise<ImageDetail> {
    checkRef(ref);
    const i = await this.service.inspect(ref);
    const d: ImageDetail = {
      id: i.Id,
      names: i.RepoTags,
      repoDigests: i.RepoDigests,
      created: new Date(i.Created),
      size: i.Size,
      labels: i.Config.Labels ?? {},
      architecture: i.Architecture,
      os: i.Os,
      config: i.Config as Record<string, unknown>,
      layers: i.RootFS.Layers,
      lastTagTime: new Date(i.Metadata.LastTagTime),
    };
    if (i.Variant !== undefined) d.variant = i.Variant;
    if (i.Author) d.author = i.Author;
    if (i.Comment) d.comment = i.Comment;
    return d;
  }

  async history(ref: string): Promise<HistoryEntry[]> {
    checkRef(ref);
    return (await this.service.history(ref)).map((h) => {
      const e: HistoryEntry = {
        created: new Date(h.Created * 1000),
        createdBy: h.CreatedBy,
        tags: h.Tags ?? [],
        size: h.Size,
        comment: h.Comment,
      };
      if (h.Id !== "<missing>") e.id = h.Id;
      return e;
    });
  }

  async tag(source: string, target: string): Promise<void> {
    checkRef(source);
    parseApiReference(target);
    await this.service.tag(source, target);
  }

  async remove(ref: string, opts: { force: boolean; noPrune: boolean }): Promise<RemovedItem[]> {
    checkRef(ref);
    const items = await this.service.remove(ref, { force: opts.force });
    const out = items.map((r): RemovedItem =>
      "Untagged" in r ? { untagged: r.Untagged } : { deleted: r.Deleted },
    );
    if (out.some((r) => "deleted" in r)) await this.gc();
    return out;
  }

  async prune(opts: { all: boolean }): Promise<{ removed: RemovedItem[]; spaceReclaimed: number }> {
    const r = await this.service.prune({ all: opts.all, graceMs: this.opts.gcGraceMs ?? 0 });
    return {
      removed: r.ImagesDeleted.map((i) =>
        "Untagged" in i ? { untagged: i.Untagged } : { deleted: i.Deleted },
      ),
      spaceReclaimed: r.SpaceReclaimed,
    };
  }

  /** Blobs nothing references any more (a pull in flight holds a lease, so it is safe). */
  private async gc(): Promise<void> {
    await collectGarbage(this.service.meta, this.service.content, { graceMs: this.opts.gcGraceMs ?? 0 });
  }

  // ---- registries ----------------------------------------------------------

  private client(registry: string, auth: RegistryAuth | undefined): RegistryClient {
    // What the client sent comes first: credentialsFor takes the first entry that matches.
    const auths: Record<string, AuthEntry> = {};
    if (auth?.username !== undefined && auth.password !== undefined)
      auths[registry] = { username: auth.username, password: auth.password };
    for (const [k, v] of Object.entries(loadAuths(this.opts.authsFile))) auths[k] ??= v;
    return new RegistryClient({ auths, insecure: this.opts.insecure ?? [], userAgent: "pier/0.1.0" });
  }

  async pull(
    ref: string,
    opts: { auth?: RegistryAuth; platform?: string },
    progress: ProgressSink,
  ): Promise<PullResult> {
    const r = parseApiReference(ref);
    const name = normalizeReference(ref);
    const platform = parsePlatform(opts.platform);
    const client = this.client(r.domain, opts.auth);
    try {
      const { content, meta } = this.service;
      const got = await client.pull(name, {
        content,
        meta,
        name,
        onProgress: (e) => progress(mapProgress(e, PULL_STATUS)),
        ...(platform ? { platform } : {}),
      });
      // recordPull wrote the records; putImage checks the image is whole (media types, diff_ids).
      await this.service.putImage(name, { digest: got.digest, mediaType: got.mediaType, size: got.size });
      return { name, digest: got.digest, upToDate: got.fetched.length === 0 };
    } catch (err) {
      // What a failed pull stored (a manifest, the blobs before the bad one) is referenced
      // by nothing once its lease is gone: collect it, so a failed pull leaves nothing.
      await this.gc().catch(() => undefined);
      throw err;
    } finally {
      client.close();
    }
  }

  async push(ref: string, opts: { auth?: RegistryAuth }, progress: ProgressSink): Promise<PushResult> {
    const r = parseApiReference(ref);
    if (r.digest !== undefined) throw invalid(`cannot push a digest reference: ${ref}`);
    const name = normalizeReference(ref);
    const img = await this.service.resolve(name);
    const client = this.client(r.domain, opts.auth);
    try {
      const res = await client.push(name, {
        content: this.service.content,
        digest: img.target.digest,
        mediaType: img.target.mediaType,
        // docker shows layers only, not the config blob.
        onProgress: (e) => {
          if (e.digest !== img.configDescriptor.digest) progress(mapProgress(e, PUSH_STATUS));
        },
      });
      return { tag: r.tag ?? "latest", digest: res.digest, size: res.size };
    } finally {
      client.close();
    }
  }

  async login(auth: RegistryAuth): Promise<void> {
    const server = (auth.serveraddress ?? "docker.io").replace(/^https?:\/\//, "").replace(/\/.*$/, "");
    const registry = server === "index.docker.io" ? "docker.io" : server;
    const client = new RegistryClient({
      auths:
        auth.username !== undefined
          ? { [registry]: { username: auth.username, password: auth.password ?? "" } }
          : {},
      insecure: this.opts.insecure ?? [],
    });
    try {
      await client.ping(registry);
    } finally {
      client.close();
    }
  }

  // ---- archives ------------------------------------------------------------

  async save(refs: string[], opts: { format?: "docker-archive" | "oci" } = {}): Promise<Readable> {
    for (const r of refs) checkRef(r);
    // Resolve now, so an unknown name is a NotFound before any byte is sent.
    for (const r of refs) await this.service.resolve(r);
    return Readable.from(saveStream(this.service, refs, { format: opts.format ?? "docker-archive" }));
  }

  async load(archive: Readable, progress: ProgressSink): Promise<LoadResult> {
    progress({ status: "Loading layers" });
    const r = await load(this.service, archive as AsyncIterable<Buffer>);
    const named = new Set(
      (await Promise.all(r.names.map(async (n) => (await this.service.resolve(n)).id))).map(String),
    );
    return { names: r.names, ids: r.ids.filter((id) => !named.has(id)) };
  }

  async importRootfs(
    tar: Readable,
    opts: { name?: string; changes: string[]; message?: string },
    progress: ProgressSink,
  ): Promise<{ id: string }> {
    if (opts.name !== undefined) parseApiReference(opts.name);
    progress({ status: "Importing" });
    const r = await importRootfs(
      this.service,
      tar as AsyncIterable<Buffer>,
      opts.name !== undefined ? normalizeReference(opts.name) : undefined,
      {
        changes: opts.changes,
        ...(opts.message !== undefined ? { comment: opts.message } : { comment: "Imported from -" }),
      },
    );
    return { id: r.id };
  }

  async bootstrap(name: string, progress: ProgressSink): Promise<{ id: string; name: string }> {
    const ref = parseApiReference(name);
    const full = normalizeReference(name);
    const base = ref.path.replace(/^library\//, "");
    progress({ status: `Bootstrapping ${full}` });
    let r;
    if (base === "busybox") r = await bootstrapBusybox(this.service, full);
    else if (base === "debian")
      r = await bootstrapDebian(this.service, full, { log: (line) => progress({ status: line }) });
    else throw notImplemented(`bootstrap ${name}: only busybox[:tag] and debian:SUITE can be bootstrapped`);
    return { id: r.id, name: full };
  }
}
