/**
 * An in-memory ImageBackend for tests and for running pierd before the real image
 * service is wired. It behaves like dockerd where clients can tell: names normalized,
 * ids by full digest or unique hex prefix, untag-then-delete on remove, docker's
 * messages for the usual errors. A second map plays the registry for pull and push;
 * save/load move a JSON document (not a real archive) so they round-trip.
 */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { PierError, invalid, notFound } from "../../common/errors.ts";
import type {
  HistoryEntry,
  ImageBackend,
  ImageDetail,
  ImageInfo,
  LoadResult,
  ProgressSink,
  PullResult,
  PushResult,
  RemovedItem,
} from "../backend.ts";
import { familiar, normalize, parseReference, repository } from "../reference.ts";

interface Stored {
  detail: ImageDetail;
  history: HistoryEntry[];
}

export interface FakeImageSpec {
  /** Names to give it (any spelling: `busybox`, `localhost:5000/x:1`). */
  names?: string[];
  created?: Date;
  size?: number;
  layers?: number;
  config?: Record<string, unknown>;
  labels?: Record<string, string>;
  /** Varies the id for images with the same names. */
  seed?: string;
}

const sha = (s: string) => `sha256:${createHash("sha256").update(s).digest("hex")}`;

/** A plausible image record (ids derived from names and seed, so tests are stable). */
export function fakeImage(spec: FakeImageSpec = {}): Stored {
  const names = (spec.names ?? []).map(normalize);
  const id = sha(`image:${names.join(",")}:${spec.seed ?? ""}`);
  const created = spec.created ?? new Date("2024-01-01T00:00:00Z");
  const nLayers = spec.layers ?? 1;
  const size = spec.size ?? 4_261_550;
  const layers = Array.from({ length: nLayers }, (_, i) => sha(`layer:${id}:${i}`));
  const detail: ImageDetail = {
    id,
    names,
    repoDigests: [],
    created,
    size,
    labels: spec.labels ?? {},
    architecture: "amd64",
    os: "linux",
    config: spec.config ?? {
      Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      Cmd: ["sh"],
    },
    layers,
  };
  const history: HistoryEntry[] = layers.map((_, i) => ({
    created,
    createdBy: i === nLayers - 1 ? '/bin/sh -c #(nop)  CMD ["sh"]' : `/bin/sh -c #(nop) ADD file:${i} in / `,
    tags: [],
    size: Math.floor(size / nLayers),
    comment: "",
  }));
  history.reverse();
  if (history[0]) {
    history[0].id = id;
    history[0].tags = names;
  }
  return { detail, history };
}

const clone = <T>(v: T): T => structuredClone(v);

export class MemoryImageBackend implements ImageBackend {
  private readonly images = new Map<string, Stored>();
  /** What a pull can fetch and where a push lands: normalized name → image. */
  readonly registry = new Map<string, Stored>();

  constructor(seed: FakeImageSpec[] = []) {
    for (const s of seed) this.add(fakeImage(s));
  }

  add(s: Stored): ImageDetail {
    const existing = this.images.get(s.detail.id);
    for (const n of s.detail.names) this.untagName(n);
    if (existing) {
      existing.detail.names.push(...s.detail.names);
      return clone(existing.detail);
    }
    this.images.set(s.detail.id, clone(s));
    return clone(s.detail);
  }

  async list(_opts: { all: boolean }): Promise<ImageInfo[]> {
    return [...this.images.values()]
      .map((s) => clone(s.detail) as ImageInfo)
      .sort((a, b) => b.created.getTime() - a.created.getTime());
  }

  async inspect(ref: string): Promise<ImageDetail> {
    return clone(this.resolve(ref).detail);
  }

  async history(ref: string): Promise<HistoryEntry[]> {
    const s = this.resolve(ref);
    return clone(s.history).map((h, i) => (i === 0 ? { ...h, tags: [...s.detail.names] } : h));
  }

  async tag(source: string, target: string): Promise<void> {
    const s = this.resolve(source);
    const name = normalize(target);
    if (parseReference(target).digest !== undefined)
      throw invalid("refusing to create a tag with a digest reference");
    if (s.detail.names.includes(name)) return;
    this.untagName(name);
    s.detail.names.push(name);
    s.detail.lastTagTime = new Date();
  }

  async remove(ref: string, opts: { force: boolean; noPrune: boolean }): Promise<RemovedItem[]> {
    const s = this.resolve(ref);
    const out: RemovedItem[] = [];
    const byName = this.nameOf(ref);
    if (byName !== undefined && s.detail.names.includes(byName)) {
      s.detail.names = s.detail.names.filter((n) => n !== byName);
      out.push({ untagged: byName });
      if (s.detail.names.length > 0) return out;
    } else if (s.detail.names.length > 1 && !opts.force) {
      throw new PierError(
        "Conflict",
        `conflict: unable to delete ${shortId(s.detail.id)} (must be forced) - image is referenced in multiple repositories`,
      );
    } else {
      for (const n of s.detail.names) out.push({ untagged: n });
      s.detail.names = [];
    }
    this.images.delete(s.detail.id);
    out.push({ deleted: s.detail.id });
    return out;
  }

  async pull(ref: string, _opts: object, progress: ProgressSink): Promise<PullResult> {
    const name = normalize(ref);
    const remote = this.registry.get(name);
    if (!remote) {
      throw notFound(
        `pull access denied for ${familiar(repository(ref))}, repository does not exist or may require 'docker login'`,
      );
    }
    const digest = sha(`manifest:${remote.detail.id}`);
    const local = this.images.get(remote.detail.id);
    if (local && local.detail.names.includes(name)) return { name, digest, upToDate: true };
    const per = Math.floor(remote.detail.size / remote.detail.layers.length);
    for (const l of remote.detail.layers) {
      const id = l.slice(7, 19);
      progress({ id, status: "Pulling fs layer" });
      progress({ id, status: "Downloading", current: Math.floor(per / 2), total: per });
      progress({ id, status: "Downloading", current: per, total: per });
      progress({ id, status: "Download complete" });
      progress({ id, status: "Pull complete" });
    }
    const copy = clone(remote);
    copy.detail.names = [name];
    copy.detail.repoDigests = [`${repository(ref)}@${digest}`];
    this.add(copy);
    return { name, digest, upToDate: false };
  }

  async push(ref: string, _opts: object, progress: ProgressSink): Promise<PushResult> {
    const s = this.resolve(ref);
    const name = normalize(ref);
    for (const l of s.detail.layers) {
      const id = l.slice(7, 19);
      progress({ id, status: "Preparing" });
      progress({ id, status: "Pushing", current: s.detail.size, total: s.detail.size });
      progress({ id, status: "Pushed" });
    }
    const copy = clone(s);
    copy.detail.names = [name];
    this.registry.set(name, copy);
    const digest = sha(`manifest:${s.detail.id}`);
    return { tag: parseReference(ref).tag ?? "latest", digest, size: 527 };
  }

  async save(refs: string[]): Promise<Readable> {
    const picked = refs.map((r) => this.resolve(r));
    return Readable.from([Buffer.from(JSON.stringify({ pierFakeArchive: 1, images: picked }))]);
  }

  async load(archive: Readable, progress: ProgressSink): Promise<LoadResult> {
    const chunks: Buffer[] = [];
    for await (const c of archive as AsyncIterable<Buffer>) chunks.push(c);
    let doc: { pierFakeArchive?: number; images?: Stored[] };
    try {
      doc = JSON.parse(Buffer.concat(chunks).toString("utf8")) as typeof doc;
    } catch {
      throw invalid("unrecognized image archive");
    }
    if (doc.pierFakeArchive !== 1 || !Array.isArray(doc.images)) throw invalid("unrecognized image archive");
    const res: LoadResult = { names: [], ids: [] };
    for (const s of doc.images) {
      s.detail.created = new Date(s.detail.created);
      for (const h of s.history) h.created = new Date(h.created);
      for (const l of s.detail.layers) progress({ id: l.slice(7, 19), status: "Loading layer" });
      this.add(s);
      if (s.detail.names.length > 0) res.names.push(...s.detail.names);
      else res.ids.push(s.detail.id);
    }
    return res;
  }

  async prune(opts: { all: boolean }): Promise<{ removed: RemovedItem[]; spaceReclaimed: number }> {
    const removed: RemovedItem[] = [];
    let space = 0;
    for (const s of [...this.images.values()]) {
      if (s.detail.names.length > 0 && !opts.all) continue;
      for (const n of s.detail.names) removed.push({ untagged: n });
      removed.push({ deleted: s.detail.id });
      space += s.detail.size;
      this.images.delete(s.detail.id);
    }
    return { removed, spaceReclaimed: space };
  }

  /** The normalized name `ref` spells when some image has that name (names win over id prefixes). */
  private nameOf(ref: string): string | undefined {
    let name: string;
    try {
      name = normalize(ref);
    } catch {
      return undefined;
    }
    return [...this.images.values()].some((i) => i.detail.names.includes(name)) ? name : undefined;
  }

  private byId(ref: string): Stored | undefined {
    const hex = ref.startsWith("sha256:") ? ref.slice(7) : ref;
    if (!/^[0-9a-f]{1,64}$/.test(hex)) return undefined;
    const hits = [...this.images.values()].filter((s) => s.detail.id.slice(7).startsWith(hex));
    if (hits.length > 1) throw invalid(`multiple IDs found with provided prefix: ${hex}`);
    return hits[0];
  }

  private resolve(ref: string): Stored {
    const name = this.nameOf(ref);
    if (name !== undefined) {
      const hit = [...this.images.values()].find((i) => i.detail.names.includes(name));
      if (hit) return hit;
    }
    const s = this.byId(ref);
    if (s) return s;
    throw notFound(`No such image: ${familiar(normalize(ref))}`);
  }

  private untagName(name: string): void {
    for (const s of this.images.values()) s.detail.names = s.detail.names.filter((n) => n !== name);
  }
}

const shortId = (id: string) => id.slice(7, 19);
