/**
 * A distribution-spec client: pull an image into the content store, push one
 * from it, and the smaller calls around them (tags, referrers, deletes).
 *
 *   const client = new RegistryClient({ auths: dockerConfig.auths });
 *   const got = await client.pull("127.0.0.1:5000/app:1.0", { content, onProgress });
 *   // got.digest: what the tag pointed at (an index or a manifest)
 *   // got.manifest / got.config / got.layers: the linux/amd64 image, all in the store
 *   await client.push("127.0.0.1:5000/copy:1.0", { content, digest: got.digest });
 *   client.close();
 *
 * Pull: the manifest is fetched with every manifest type accepted, verified
 * against the digest asked for (or the registry's Docker-Content-Digest) and
 * stored; an index is resolved to the platform asked for (linux/amd64 by
 * default). Blobs already in the store are skipped; the others are streamed
 * into an ingest with their expected digest and size, so a blob whose bytes do
 * not match is refused (InvalidArgument), its ingest removed, and nothing is
 * stored under its name. An interrupted download keeps its ingest and resumes
 * with a Range request next time. With `meta`, a lease keeps what was fetched
 * alive during the pull and the result is recorded (`recordPull`): name →
 * manifest, manifests, config, layers.
 *
 * Push: for every blob, HEAD first (present: skipped), then a mount from the
 * repositories given in `mountFrom`, then an upload: one PUT for blobs up to
 * `chunkSize`, PATCH chunks with Content-Range for larger ones (a 416 makes it
 * ask the registry where the upload stands and go on from there). Manifests
 * go last: an index's children by digest, then the root by tag.
 */
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { PierError, wrap } from "../../common/errors.ts";
import type { ContentStore } from "../../image/content/store.ts";
import { digestOf, isDigest } from "../../image/digest.ts";
import type { MetadataStore } from "../../image/store/metadata.ts";
import { putBytes } from "../content.ts";
import { RegistryError } from "../errors.ts";
import {
  formatReference,
  isIndexType,
  MANIFEST_TYPES,
  parseReference,
  type OciDescriptor,
  type ParsedManifest,
  type RegistryReference,
} from "../reference.ts";
import { discard, errorOf, readAll, Transport, type Response, type TransportOptions } from "./transport.ts";

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface ProgressEvent {
  /** The blob's short id (12 hex digits), as docker shows it. */
  id: string;
  digest: string;
  status: "waiting" | "exists" | "mounted" | "downloading" | "uploading" | "done" | "failed";
  current: number;
  total: number;
}

export interface ClientOptions extends TransportOptions {
  /** Blobs larger than this are uploaded in chunks of this size (default 16 MiB). */
  chunkSize?: number;
  /** Blobs transferred at once (default 6 for pulls, 5 for pushes, as skopeo and docker). */
  concurrency?: number;
  /** Largest manifest accepted (default 4 MiB). */
  maxManifestSize?: number;
}

export interface PullOptions {
  content: ContentStore;
  /** Default linux/amd64. */
  platform?: Platform;
  onProgress?: (e: ProgressEvent) => void;
  /** Record the image in pier's metadata (and hold a lease while pulling). */
  meta?: MetadataStore;
  /** The image name to record (default: the canonical reference). */
  name?: string;
}

export interface ManifestInfo {
  digest: string;
  mediaType: string;
  size: number;
}

export interface PullResult {
  /** Canonical reference, e.g. "127.0.0.1:5000/app:1.0". */
  reference: string;
  /** What the reference resolved to: an index or an image manifest. */
  digest: string;
  mediaType: string;
  size: number;
  /** The image manifest chosen for the platform (the same as the root when it is not an index). */
  manifest: ManifestInfo;
  index?: ManifestInfo;
  config: OciDescriptor;
  layers: OciDescriptor[];
  /** Blobs downloaded, and blobs that were already in the store. */
  fetched: string[];
  skipped: string[];
}

export interface PushOptions {
  content: ContentStore;
  /** The manifest or index to push, in the content store. */
  digest: string;
  /** Its media type when the manifest does not say. */
  mediaType?: string;
  /** Repositories on the same registry that may already hold the blobs. */
  mountFrom?: readonly string[];
  /** Upload every blob in chunks of this size (default: only blobs above the client's chunkSize). */
  chunkSize?: number;
  onProgress?: (e: ProgressEvent) => void;
}

export interface PushResult {
  reference: string;
  digest: string;
  mediaType: string;
  size: number;
  blobs: { digest: string; size: number; action: "exists" | "mounted" | "uploaded" }[];
}

const ACCEPT = MANIFEST_TYPES.join(", ");

/**
 * Downloads in flight in this process, by content store and digest: a second
 * pull of a blob waits for the first instead of failing on the ingest's lock.
 */
const inflight = new Map<string, Promise<boolean>>();
const DEFAULT_PLATFORM: Platform = { os: "linux", architecture: "amd64" };

export class RegistryClient {
  private readonly opts: ClientOptions;
  private readonly transports = new Map<string, Transport>();

  constructor(opts: ClientOptions = {}) {
    this.opts = opts;
  }

  close(): void {
    for (const t of this.transports.values()) t.close();
    this.transports.clear();
  }

  /** Checks that the registry speaks the v2 API (and that our credentials work). */
  async ping(registry: string): Promise<void> {
    const t = this.transport(registry);
    const res = await t.expect("GET", "/v2/", [200], `ping ${registry}`);
    await discard(res);
  }

  // ---- pull -----------------------------------------------------------------------

  async pull(reference: string, opts: PullOptions): Promise<PullResult> {
    const ref = parseReference(reference);
    const t = this.transport(ref.registry);
    const scopes = [`repository:${ref.repository}:pull`];
    const what = formatReference(ref);
    const lease = opts.meta ? `lease:pull-${randomUUID()}` : undefined;
    // One transaction for many digests: each commit is an fsync, and better-sqlite3 blocks
    // the event loop (the downloads) meanwhile.
    const hold = (...ds: string[]) => {
      if (lease && opts.meta && ds.length) {
        opts.meta.transaction(() => {
          for (const d of ds) opts.meta?.addRef(lease, `blob:${d}`);
        });
      }
    };
    try {
      const root = await this.fetchManifest(t, ref, ref.digest ?? ref.tag ?? "latest", scopes, opts.content);
      hold(root.digest);
      let chosen = root;
      let index: ManifestInfo | undefined;
      for (let depth = 0; isIndexType(chosen.mediaType); depth++) {
        if (depth > 2) throw new PierError("InvalidArgument", `${what}: indexes nested too deep`);
        index = info(chosen);
        const child = choosePlatform(chosen.parsed, opts.platform ?? DEFAULT_PLATFORM, what);
        chosen = await this.fetchManifest(t, ref, child.digest, scopes, opts.content);
        hold(chosen.digest);
      }
      const m = chosen.parsed;
      if (!m.config || !Array.isArray(m.layers)) {
        throw new PierError("InvalidArgument", `${what}: manifest ${chosen.digest} has no config or layers`);
      }
      const blobs = [m.config, ...m.layers];
      const fetched: string[] = [];
      const skipped: string[] = [];
      const seen = new Set<string>();
      const todo = blobs.filter((d) => !seen.has(d.digest) && seen.add(d.digest));
      for (const d of todo) opts.onProgress?.(progress(d, "waiting", 0));
      hold(...todo.map((d) => d.digest));
      await parallel(todo, this.opts.concurrency ?? 6, async (d) => {
        const key = `${opts.content.root}\0${d.digest}`;
        for (let running = inflight.get(key); running; running = inflight.get(key)) {
          await running.catch(() => undefined);
        }
        // No await between the check above and claiming the key below.
        const p = (async () => {
          if (await opts.content.has(d.digest)) return false;
          await this.fetchBlob(t, ref.repository, d, scopes, opts);
          return true;
        })();
        inflight.set(key, p);
        try {
          if (await p) fetched.push(d.digest);
          else {
            skipped.push(d.digest);
            opts.onProgress?.(progress(d, "exists", d.size));
          }
        } finally {
          if (inflight.get(key) === p) inflight.delete(key);
        }
      });
      const result: PullResult = {
        reference: what,
        digest: root.digest,
        mediaType: root.mediaType,
        size: root.size,
        manifest: info(chosen),
        config: m.config,
        layers: m.layers,
        fetched,
        skipped,
      };
      if (index) result.index = index;
      if (opts.meta) await recordPull(opts.meta, opts.content, opts.name ?? what, result);
      return result;
    } catch (err) {
      throw wrap(err, `pull ${what}`);
    } finally {
      if (lease && opts.meta) opts.meta.transaction(() => opts.meta?.removeRefs(lease));
    }
  }

  /** Fetches, verifies and stores one manifest. */
  private async fetchManifest(
    t: Transport,
    ref: RegistryReference,
    reference: string,
    scopes: string[],
    content: ContentStore,
  ): Promise<ManifestInfo & { parsed: ParsedManifest }> {
    const what = `manifest ${ref.registry}/${ref.repository}:${reference}`;
    const res = await t.expect("GET", `/v2/${ref.repository}/manifests/${reference}`, [200], `get ${what}`, {
      headers: { Accept: ACCEPT },
      scopes,
    });
    const data = await readAll(res, this.opts.maxManifestSize ?? 4 * 1024 * 1024);
    const header = res.headers["docker-content-digest"];
    const expected = isDigest(reference)
      ? reference
      : typeof header === "string" && isDigest(header)
        ? header
        : undefined;
    const digest = digestOf(data, expected?.startsWith("sha512:") ? "sha512" : "sha256");
    if (expected !== undefined && digest !== expected) {
      throw new PierError("InvalidArgument", `${what}: content has digest ${digest}, expected ${expected}`, {
        hint: "the registry sent a corrupt manifest",
      });
    }
    let parsed: ParsedManifest;
    try {
      parsed = JSON.parse(data.toString("utf8")) as ParsedManifest;
    } catch (err) {
      throw new PierError("InvalidArgument", `${what}: not JSON`, { cause: err });
    }
    const ct = (res.headers["content-type"] ?? "").split(";")[0]!.trim();
    const mediaType = parsed.mediaType ?? ct;
    if (!MANIFEST_TYPES.includes(mediaType)) {
      throw new PierError(
        "NotImplemented",
        `${what}: media type ${JSON.stringify(mediaType)} not implemented`,
      );
    }
    await putBytes(content, data, digest);
    return { digest, mediaType, size: data.length, parsed };
  }

  /** Streams one blob into the content store, verified against its descriptor. */
  private async fetchBlob(
    t: Transport,
    repo: string,
    d: OciDescriptor,
    scopes: string[],
    opts: PullOptions,
  ): Promise<void> {
    const w = await opts.content.writer(`pull-${d.digest}`, { expected: d.digest, total: d.size });
    const report = (status: ProgressEvent["status"], current: number) =>
      opts.onProgress?.(progress(d, status, current));
    // Socket reads are ~64 KiB: they are written in 1 MiB batches, one write in flight
    // while the socket keeps being read (awaiting each write stalls the TCP window).
    let writing: Promise<void> = Promise.resolve();
    let batch: Buffer[] = [];
    let batched = 0;
    const flush = () => {
      if (batched === 0) return;
      const data = batch.length === 1 ? batch[0]! : Buffer.concat(batch, batched);
      batch = [];
      batched = 0;
      writing = writing.then(() => w.write(data));
      writing.catch(() => undefined); // awaited later; no unhandled rejection meanwhile
    };
    try {
      report("downloading", w.offset);
      const headers: Record<string, string> = {};
      if (w.offset > 0 && w.offset < d.size) headers.Range = `bytes=${w.offset}-`;
      const res = await t.expect("GET", `/v2/${repo}/blobs/${d.digest}`, [200, 206], `get blob ${d.digest}`, {
        headers,
        scopes,
      });
      if (res.status === 200 && w.offset > 0) await w.reset();
      if (
        res.status === 206 &&
        !String(res.headers["content-range"] ?? "").startsWith(`bytes ${w.offset}-`)
      ) {
        await discard(res);
        throw new PierError("Unavailable", `blob ${d.digest}: registry answered a different range`);
      }
      let last = 0;
      let received = w.offset;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        batch.push(chunk);
        batched += chunk.length;
        received += chunk.length;
        if (batched >= 1024 * 1024) {
          await writing; // at most one batch waits while the next one fills
          flush();
        }
        if (received - last >= 512 * 1024) {
          last = received;
          report("downloading", received);
        }
      }
      flush();
      await writing;
      await w.commit();
      report("done", d.size);
    } catch (err) {
      flush(); // what arrived before a broken connection is kept for the resume
      await writing.catch(() => undefined); // the writer is idle before it is closed
      report("failed", w.offset);
      if (err instanceof PierError && (err.kind === "InvalidArgument" || err.kind === "ResourceExhausted")) {
        await w.abort();
        throw new PierError(
          err.kind,
          `blob ${d.digest} from ${t.registry}/${repo} is corrupt: ${err.message}`,
          {
            cause: err,
            hint: "the registry sent content that does not match its digest; nothing was stored",
          },
        );
      }
      const offset = w.offset;
      await w.close(); // keep what arrived: the next pull resumes it
      if (err instanceof PierError) throw wrap(err, `get blob ${d.digest}`);
      throw new PierError(
        "Unavailable",
        `get blob ${d.digest}: connection lost after ${offset} of ${d.size} bytes: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err, hint: "pull again: the download resumes where it stopped" },
      );
    }
  }

  // ---- push -----------------------------------------------------------------------

  async push(reference: string, opts: PushOptions): Promise<PushResult> {
    const ref = parseReference(reference);
    const t = this.transport(ref.registry);
    const scopes = [
      `repository:${ref.repository}:pull,push`,
      ...(opts.mountFrom ?? []).map((r) => `repository:${r}:pull`),
    ];
    const what = formatReference(ref);
    const blobs: PushResult["blobs"] = [];
    const done = new Set<string>();
    const pushManifest = async (
      digest: string,
      mediaTypeHint: string | undefined,
      tag: string,
    ): Promise<ManifestInfo> => {
      const data = await opts.content.read(digest, { maxSize: this.opts.maxManifestSize ?? 4 * 1024 * 1024 });
      const parsed = JSON.parse(data.toString("utf8")) as ParsedManifest;
      const mediaType = parsed.mediaType ?? mediaTypeHint;
      if (mediaType === undefined || !MANIFEST_TYPES.includes(mediaType)) {
        throw new PierError("InvalidArgument", `manifest ${digest}: unknown media type ${String(mediaType)}`);
      }
      if (isIndexType(mediaType)) {
        for (const child of parsed.manifests ?? []) {
          if (!(await opts.content.has(child.digest))) {
            throw new PierError(
              "FailedPrecondition",
              `index ${digest}: child manifest ${child.digest} is not in the store`,
              {
                hint: "pull all platforms of the image before pushing its index",
              },
            );
          }
          await pushManifest(child.digest, child.mediaType, child.digest);
        }
      } else {
        if (!parsed.config || !Array.isArray(parsed.layers)) {
          throw new PierError("InvalidArgument", `manifest ${digest} has no config or layers`);
        }
        const todo = [parsed.config, ...parsed.layers].filter(
          (d) => !done.has(d.digest) && done.add(d.digest),
        );
        for (const d of todo) opts.onProgress?.(progress(d, "waiting", 0));
        const actions = new Map<string, PushResult["blobs"][number]["action"]>();
        await parallel(todo, this.opts.concurrency ?? 5, async (d) => {
          actions.set(d.digest, await this.pushBlob(t, ref.repository, d, scopes, opts));
        });
        for (const d of todo) blobs.push({ digest: d.digest, size: d.size, action: actions.get(d.digest)! });
      }
      const res = await t.expect(
        "PUT",
        `/v2/${ref.repository}/manifests/${tag}`,
        [201, 200, 202],
        `put manifest ${tag}`,
        {
          headers: { "Content-Type": mediaType },
          body: data,
          scopes,
        },
      );
      await discard(res);
      const got = res.headers["docker-content-digest"];
      if (typeof got === "string" && got !== "" && got !== digest) {
        throw new PierError("Internal", `put manifest ${tag}: registry says ${got}, we sent ${digest}`);
      }
      return { digest, mediaType, size: data.length };
    };
    try {
      const top = await pushManifest(opts.digest, opts.mediaType, ref.digest ?? ref.tag ?? opts.digest);
      if (ref.digest !== undefined && ref.digest !== opts.digest) {
        throw new PierError(
          "InvalidArgument",
          `reference names ${ref.digest} but the manifest is ${opts.digest}`,
        );
      }
      return { reference: what, ...top, blobs };
    } catch (err) {
      throw wrap(err, `push ${what}`);
    }
  }

  private async pushBlob(
    t: Transport,
    repo: string,
    d: OciDescriptor,
    scopes: string[],
    opts: PushOptions,
  ): Promise<"exists" | "mounted" | "uploaded"> {
    const report = (status: ProgressEvent["status"], current: number) =>
      opts.onProgress?.(progress(d, status, current));
    const head = await t.request("HEAD", `/v2/${repo}/blobs/${d.digest}`, { scopes });
    await discard(head);
    if (head.status === 200) {
      report("exists", d.size);
      return "exists";
    }
    if (head.status !== 404) throw await errorOf(head, `check blob ${d.digest}`, true);
    const size = (await opts.content.info(d.digest)).size;
    let location: URL | undefined;
    for (const from of opts.mountFrom ?? []) {
      if (from === repo) continue;
      const q = `?mount=${encodeURIComponent(d.digest)}&from=${encodeURIComponent(from)}`;
      const res = await t.expect(
        "POST",
        `/v2/${repo}/blobs/uploads/${q}`,
        [201, 202],
        `mount blob ${d.digest}`,
        { scopes },
      );
      await discard(res);
      if (res.status === 201) {
        report("mounted", size);
        return "mounted";
      }
      location = locationOf(res);
      break;
    }
    if (!location) {
      const res = await t.expect("POST", `/v2/${repo}/blobs/uploads/`, [202], `start upload of ${d.digest}`, {
        scopes,
      });
      await discard(res);
      location = locationOf(res);
    }
    const chunk = opts.chunkSize ?? this.opts.chunkSize ?? 16 * 1024 * 1024;
    report("uploading", 0);
    if (opts.chunkSize === undefined && size <= chunk) {
      let sent = 0;
      const body = () =>
        Readable.from(
          (async function* (content: ContentStore) {
            sent = 0;
            for await (const c of await content.reader(d.digest)) {
              sent += (c as Buffer).length;
              report("uploading", sent);
              yield c as Buffer;
            }
          })(opts.content),
        );
      const url = withDigest(location, d.digest);
      const res = await t.expect("PUT", url, [201, 204], `upload blob ${d.digest}`, {
        headers: { "Content-Type": "application/octet-stream", "Content-Length": String(size) },
        body,
        scopes,
      });
      await discard(res);
    } else {
      let offset = 0;
      let retries = 0;
      while (offset < size) {
        const end = Math.min(offset + chunk, size) - 1;
        const data = await readRange(opts.content, d.digest, offset, end);
        const res = await t.request("PATCH", location, {
          headers: {
            "Content-Type": "application/octet-stream",
            "Content-Range": `${offset}-${end}`,
          },
          body: data,
          scopes,
        });
        await discard(res);
        if (res.status === 416 && retries++ < 3) {
          offset = await this.uploadOffset(t, location, scopes);
          continue;
        }
        if (res.status !== 202)
          throw await errorOf(res, `upload chunk ${offset}-${end} of ${d.digest}`, true);
        location = locationOf(res, location);
        offset = end + 1;
        report("uploading", offset);
      }
      const res = await t.expect(
        "PUT",
        withDigest(location, d.digest),
        [201, 204],
        `finish upload of ${d.digest}`,
        {
          scopes,
        },
      );
      await discard(res);
    }
    report("done", size);
    return "uploaded";
  }

  /** Where an upload stands (the registry's Range header), after a 416. */
  private async uploadOffset(t: Transport, location: URL, scopes: string[]): Promise<number> {
    const res = await t.expect("GET", location, [204, 200], "get upload status", { scopes });
    await discard(res);
    const m = /^(?:bytes=)?0-(\d+)$/.exec(String(res.headers.range ?? ""));
    return m ? Number(m[1]) + 1 : 0;
  }

  // ---- the smaller calls -------------------------------------------------------------

  /** One page of tags (`n`, `last`), with where the next page starts if there is one. */
  async listTags(
    repository: string,
    page: { n?: number; last?: string } = {},
  ): Promise<{ tags: string[]; next?: string }> {
    const ref = parseReference(repository);
    const t = this.transport(ref.registry);
    const q = new URLSearchParams();
    if (page.n !== undefined) q.set("n", String(page.n));
    if (page.last !== undefined) q.set("last", page.last);
    const qs = q.toString();
    const res = await t.expect(
      "GET",
      `/v2/${ref.repository}/tags/list${qs ? `?${qs}` : ""}`,
      [200],
      `list tags of ${ref.repository}`,
      {
        scopes: [`repository:${ref.repository}:pull`],
      },
    );
    const body = JSON.parse((await readAll(res, 16 * 1024 * 1024)).toString("utf8")) as {
      tags?: string[] | null;
    };
    const link = /<([^>]+)>\s*;\s*rel="?next"?/.exec(String(res.headers.link ?? ""));
    const next = link ? (new URL(link[1]!, t.base).searchParams.get("last") ?? undefined) : undefined;
    return { tags: body.tags ?? [], ...(next === undefined ? {} : { next }) };
  }

  /** Every tag, following the registry's paging. */
  async allTags(repository: string, pageSize = 100): Promise<string[]> {
    const out: string[] = [];
    let last: string | undefined;
    for (;;) {
      const page = await this.listTags(repository, { n: pageSize, ...(last === undefined ? {} : { last }) });
      out.push(...page.tags);
      if (page.next === undefined) return out;
      last = page.next;
    }
  }

  /** The manifests whose subject is `reference`'s digest (an image index's descriptors). */
  async referrers(
    reference: string,
    opts: { artifactType?: string } = {},
  ): Promise<{ manifests: OciDescriptor[]; filtersApplied: string[] }> {
    const ref = parseReference(reference);
    if (ref.digest === undefined)
      throw new PierError("InvalidArgument", `referrers of ${reference}: needs @digest`);
    const t = this.transport(ref.registry);
    const q = opts.artifactType === undefined ? "" : `?artifactType=${encodeURIComponent(opts.artifactType)}`;
    const res = await t.expect(
      "GET",
      `/v2/${ref.repository}/referrers/${ref.digest}${q}`,
      [200],
      `referrers of ${reference}`,
      {
        scopes: [`repository:${ref.repository}:pull`],
      },
    );
    const body = JSON.parse((await readAll(res, 16 * 1024 * 1024)).toString("utf8")) as {
      manifests?: OciDescriptor[];
    };
    const applied = String(res.headers["oci-filters-applied"] ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "");
    return { manifests: body.manifests ?? [], filtersApplied: applied };
  }

  /** The raw manifest a reference names, verified. */
  async getManifest(
    reference: string,
    content: ContentStore,
  ): Promise<ManifestInfo & { parsed: ParsedManifest }> {
    const ref = parseReference(reference);
    const t = this.transport(ref.registry);
    return this.fetchManifest(
      t,
      ref,
      ref.digest ?? ref.tag ?? "latest",
      [`repository:${ref.repository}:pull`],
      content,
    );
  }

  /** Deletes a tag (`repo:tag`) or a manifest (`repo@digest`). */
  async deleteManifest(reference: string): Promise<void> {
    const ref = parseReference(reference);
    const t = this.transport(ref.registry);
    const target = ref.digest ?? ref.tag ?? "latest";
    const res = await t.expect(
      "DELETE",
      `/v2/${ref.repository}/manifests/${target}`,
      [202, 200, 204],
      `delete ${reference}`,
      {
        scopes: [`repository:${ref.repository}:delete`],
      },
    );
    await discard(res);
  }

  async deleteBlob(repository: string, digest: string): Promise<void> {
    const ref = parseReference(repository);
    const t = this.transport(ref.registry);
    const res = await t.expect(
      "DELETE",
      `/v2/${ref.repository}/blobs/${digest}`,
      [202, 200, 204],
      `delete blob ${digest}`,
      {
        scopes: [`repository:${ref.repository}:delete`],
      },
    );
    await discard(res);
  }

  private transport(registry: string): Transport {
    let t = this.transports.get(registry);
    if (!t) {
      t = new Transport(registry, this.opts);
      this.transports.set(registry, t);
    }
    return t;
  }
}

/**
 * Records a pulled image in pier's metadata: its manifests, config, layers
 * (diffIDs from the config) and `name` → the root manifest or index.
 */
export async function recordPull(
  meta: MetadataStore,
  content: ContentStore,
  name: string,
  r: PullResult,
): Promise<void> {
  const config = JSON.parse(
    (await content.read(r.config.digest, { maxSize: 16 * 1024 * 1024 })).toString("utf8"),
  ) as {
    rootfs?: { diff_ids?: string[] };
  };
  const diffIDs = config.rootfs?.diff_ids ?? [];
  meta.transaction(() => {
    meta.putConfig({ digest: r.config.digest, size: r.config.size, diffIDs });
    r.layers.forEach((l, i) => {
      const diffID = diffIDs[i];
      if (diffID !== undefined && isDigest(diffID)) {
        meta.putLayer({ digest: l.digest, diffID, mediaType: l.mediaType, size: l.size });
      }
    });
    meta.putManifest({
      digest: r.manifest.digest,
      mediaType: r.manifest.mediaType,
      size: r.manifest.size,
      configDigest: r.config.digest,
      layers: r.layers.map((l) => l.digest),
      manifests: [],
    });
    if (r.index) {
      meta.putManifest({ ...r.index, layers: [], manifests: [r.manifest.digest] });
    }
    meta.putImage({
      name,
      target: { digest: r.digest, mediaType: r.mediaType, size: r.size },
      configDigest: r.config.digest,
    });
  });
}

// ---- helpers -----------------------------------------------------------------------

function info(m: ManifestInfo): ManifestInfo {
  return { digest: m.digest, mediaType: m.mediaType, size: m.size };
}

function progress(d: OciDescriptor, status: ProgressEvent["status"], current: number): ProgressEvent {
  return {
    id: d.digest.slice(d.digest.indexOf(":") + 1, d.digest.indexOf(":") + 13),
    digest: d.digest,
    status,
    current,
    total: d.size,
  };
}

export function choosePlatform(index: ParsedManifest, want: Platform, what: string): OciDescriptor {
  const list = index.manifests ?? [];
  const match = list.filter(
    (m) =>
      m.platform?.os === want.os &&
      m.platform.architecture === want.architecture &&
      (want.variant === undefined || m.platform.variant === want.variant),
  );
  const pick = match[0];
  if (!pick) {
    const have = list
      .map((m) =>
        m.platform
          ? `${m.platform.os}/${m.platform.architecture}${m.platform.variant ? `/${m.platform.variant}` : ""}`
          : "?",
      )
      .join(", ");
    throw new PierError(
      "NotFound",
      `${what}: no manifest for ${want.os}/${want.architecture} (the index has: ${have || "none"})`,
    );
  }
  return pick;
}

function locationOf(res: Response, fallback?: URL): URL {
  const loc = res.headers.location;
  if (loc === undefined || loc === "") {
    if (fallback) return fallback;
    throw new RegistryError("Unavailable", `${res.url}: registry answered ${res.status} without a Location`, {
      status: res.status,
    });
  }
  return new URL(loc, res.url);
}

function withDigest(location: URL, digest: string): URL {
  const u = new URL(location);
  u.searchParams.set("digest", digest);
  return u;
}

async function readRange(content: ContentStore, digest: string, start: number, end: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await content.reader(digest, { start, end })) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function parallel<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (next < items.length && failed === undefined) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed;
}
