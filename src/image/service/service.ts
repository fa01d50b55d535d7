/**
 * The image service: one object over a root directory that ties the content
 * store, the image metadata and a snapshotter together into docker's image
 * model. The engine, the builder, archives and the API all go through it.
 *
 *   <root>/content/          blobs (ContentStore)
 *   <root>/metadata.db       images, manifests, configs, layers, GC edges
 *   <root>/snapshots/<name>/ the snapshotter ("overlayfs" or "naive")
 *
 * Vocabulary:
 *   - an **image** is a manifest (or an index, of which this machine's
 *     platform is used) plus its config and layers, all blobs in the store;
 *   - its **ID** is the digest of its config (docker's image ID);
 *   - a **name** is a normalized reference ("docker.io/library/busybox:latest"
 *     or "…/busybox@sha256:…"); an image keeps living while one name points
 *     at it. An image with no name left but still in use by a container, or
 *     committed without a name, is **dangling**: it is recorded under its
 *     manifest digest as name, and shows as `<none>:<none>`;
 *   - each layer is unpacked once into a committed snapshot named by its
 *     **chain ID** (OCI image spec: chain(L1) = diffID(L1), chain(L1..Ln) =
 *     sha256(chain(L1..Ln-1) + " " + diffID(Ln))), so images sharing their
 *     first layers share their snapshots;
 *   - a **rootfs** is an active snapshot on top of an image's chain, under a
 *     key the caller picks (the engine uses the container ID). It carries the
 *     label `pier.image` = image ID and is a GC root for the image's blobs
 *     until `removeRootfs`.
 *
 * Removal follows docker: `remove(name)` untags; the last name also deletes
 * the image; an ID with several names, or an image a rootfs is using, needs
 * `force` (with force, an image in use loses its names but stays, dangling,
 * until its last rootfs is removed and `prune` runs). Committed snapshots no
 * image needs any more are removed at once; blobs are removed by `prune`
 * (garbage collection, which keeps blobs younger than its grace period so
 * that a pull in progress never loses what it has fetched).
 */
import { randomUUID } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { PierError, invalid, notFound, wrap } from "../../common/errors.ts";
import { ContentStore, type Descriptor } from "../content/store.ts";
import { digestOf, isDigest, type Digest } from "../digest.ts";
import { collectGarbage, type GcOptions } from "../gc.ts";
import { applyLayer, diffMounts } from "../layer/apply.ts";
import type { LayerDescriptor } from "../layer/pack.ts";
import { blobNode, MetadataStore, type ImageRecord } from "../store/metadata.ts";
import type { Mount } from "../../snapshot/mount.ts";
import { NaiveSnapshotter } from "../../snapshot/naive.ts";
import { OverlaySnapshotter } from "../../snapshot/overlay.ts";
import type { Snapshotter } from "../../snapshot/snapshotter.ts";
import { applyChanges } from "./changes.ts";
import {
  canonical,
  choosePlatform,
  goTime,
  normalizeConfig,
  MT,
  ociLayerType,
  parseConfig,
  parseManifest,
  type ConfigJSON,
  type ContainerConfig,
  type DescriptorJSON,
  type HistoryJSON,
  type ManifestJSON,
} from "./oci.ts";
import { familiarReference, formatReference, parseReference, repository } from "./reference.ts";

export interface ImageServiceOptions {
  /** Default "overlayfs". */
  snapshotter?: "overlayfs" | "naive";
}

/** A manifest or index blob already in the content store. */
export interface TargetInput {
  digest: Digest;
  mediaType?: string;
  size?: number;
}

/** One image resolved down to this machine's manifest and config. */
export interface ResolvedImage {
  /** The image ID (config digest). */
  id: Digest;
  /** Every record (name) pointing at this image, dangling ones included. */
  records: ImageRecord[];
  /** The record a name resolved to (undefined when resolved by ID). */
  matched?: ImageRecord;
  /** The manifest or index the names point at. */
  target: Descriptor & { mediaType: string };
  /** This platform's manifest. */
  manifest: ManifestJSON;
  manifestDescriptor: Descriptor & { mediaType: string };
  config: ConfigJSON;
  configDescriptor: Descriptor & { mediaType: string };
}

/** docker's GET /images/json entry. */
export interface ImageSummary {
  Id: string;
  ParentId: string;
  RepoTags: string[];
  RepoDigests: string[];
  Created: number;
  Size: number;
  SharedSize: number;
  VirtualSize: number;
  Labels: Record<string, string>;
  Containers: number;
}

/** docker's GET /images/{name}/json. */
export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent: string;
  Comment: string;
  Created: string;
  Container: string;
  DockerVersion: string;
  Author: string;
  Config: ContainerConfig;
  Architecture: string;
  Variant?: string;
  Os: string;
  Size: number;
  VirtualSize: number;
  GraphDriver: { Name: string; Data: Record<string, string> };
  RootFS: { Type: string; Layers: string[] };
  Metadata: { LastTagTime: string };
}

/** docker's GET /images/{name}/history entry. */
export interface HistoryEntry {
  Id: string;
  Created: number;
  CreatedBy: string;
  Tags: string[] | null;
  Size: number;
  Comment: string;
}

export type RemoveItem = { Untagged: string } | { Deleted: string };

export interface CommitOptions {
  /** Name for the new image; without it the image is dangling. */
  name?: string;
  /** The image the snapshot was prepared from (default: its `pier.image` label). */
  parentImage?: string;
  /** Dockerfile-style config changes: "CMD [\"sh\"]", "ENV A=b"… */
  changes?: string[];
  /** Config fields merged over the parent's (after `changes`). */
  config?: Partial<ContainerConfig>;
  author?: string;
  comment?: string;
  /** The history entry's created_by (default "pier commit"). */
  createdBy?: string;
  created?: Date;
}

export interface CreateImageOptions {
  annotations?: Record<string, string>;
}

export const IMAGE_LABEL = "pier.image";
const DANGLING_PREFIX = "sha256:";
const MAX_MANIFEST = 4 * 1024 * 1024;
const MAX_CONFIG = 16 * 1024 * 1024;

const isDangling = (r: ImageRecord) => isDigest(r.name);
const rootfsNode = (key: string) => `rootfs:${key}`;

/** The OCI chain IDs of a list of diffIDs. */
export function chainIDs(diffIDs: readonly Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const d of diffIDs) {
    const prev = out[out.length - 1];
    out.push(prev === undefined ? d : digestOf(`${prev} ${d}`));
  }
  return out;
}

export class ImageService {
  readonly root: string;
  readonly content: ContentStore;
  readonly meta: MetadataStore;
  readonly snapshotter: Snapshotter;

  private constructor(root: string, content: ContentStore, meta: MetadataStore, sn: Snapshotter) {
    this.root = root;
    this.content = content;
    this.meta = meta;
    this.snapshotter = sn;
  }

  static async open(root: string, opts: ImageServiceOptions = {}): Promise<ImageService> {
    await mkdir(root, { recursive: true });
    const content = await ContentStore.open(join(root, "content"));
    const meta = MetadataStore.open(join(root, "metadata.db"));
    const kind = opts.snapshotter ?? "overlayfs";
    await mkdir(join(root, "snapshots", kind), { recursive: true });
    const sn =
      kind === "naive"
        ? await NaiveSnapshotter.open(join(root, "snapshots", kind))
        : await OverlaySnapshotter.open(join(root, "snapshots", kind));
    return new ImageService(root, content, meta, sn);
  }

  async close(): Promise<void> {
    await this.snapshotter.close();
    this.meta.close();
  }

  // ---- putting images ------------------------------------------------------

  /**
   * Records the image whose manifest (or index) `target` is, under `name`
   * (normalized; undefined makes it dangling). Every blob this platform needs
   * must already be in the content store; media types are checked, the
   * config's diff_ids must match the layers one to one. Returns the image ID.
   */
  async putImage(name: string | undefined, target: TargetInput): Promise<Digest> {
    const data = await this.content.read(target.digest, { maxSize: MAX_MANIFEST });
    if (target.size !== undefined && target.size !== data.length)
      throw invalid(`manifest ${target.digest}: size ${data.length}, descriptor says ${target.size}`);
    const top = parseManifest(data, target.mediaType);
    let fullName: string | undefined;
    if (name !== undefined) {
      const ref = parseReference(name);
      if (ref.digest !== undefined) {
        if (ref.digest !== target.digest)
          throw invalid(`name ${name} has digest ${ref.digest} but the manifest is ${target.digest}`);
        delete ref.tag; // name@digest records the digest; a tag is recorded separately
      }
      fullName = formatReference(ref);
    }
    const writes: (() => void)[] = [];
    let manifestDigest = target.digest;
    let mData = data;
    let m = top;
    if (top.kind === "index") {
      const idx = top;
      writes.push(() =>
        this.meta.putManifest({
          digest: target.digest,
          mediaType: idx.mediaType,
          size: data.length,
          layers: [],
          manifests: idx.doc.manifests.map((d) => d.digest),
        }),
      );
      const child = choosePlatform(idx.doc);
      manifestDigest = child.digest;
      mData = await this.content.read(child.digest, { maxSize: MAX_MANIFEST }).catch((err: unknown) => {
        throw wrap(err, `platform manifest of index ${target.digest}`);
      });
      m = parseManifest(mData, child.mediaType);
      if (m.kind !== "manifest") throw invalid(`nested index ${child.digest} is not supported`);
    }
    if (m.kind !== "manifest") throw new PierError("Internal", "unreachable");
    const manifest = m.doc;
    const cData = await this.content
      .read(manifest.config.digest, { maxSize: MAX_CONFIG })
      .catch((err: unknown) => {
        throw wrap(err, `config of ${manifestDigest}`);
      });
    if (cData.length !== manifest.config.size)
      throw invalid(`config ${manifest.config.digest}: size mismatch`);
    const config = parseConfig(cData);
    const diffIDs = config.rootfs.diff_ids;
    if (diffIDs.length !== manifest.layers.length)
      throw invalid(
        `manifest ${manifestDigest} has ${manifest.layers.length} layers but its config lists ${diffIDs.length} diff_ids`,
      );
    for (const l of manifest.layers) {
      const info = await this.content.info(l.digest).catch((err: unknown) => {
        throw wrap(err, `layer of ${manifestDigest}`);
      });
      if (info.size !== l.size)
        throw invalid(`layer ${l.digest}: size ${info.size}, manifest says ${l.size}`);
    }
    const configDigest = manifest.config.digest;
    const record = fullName ?? target.digest;
    const mType = m.mediaType;
    this.meta.transaction(() => {
      this.meta.putConfig({ digest: configDigest, size: cData.length, diffIDs });
      manifest.layers.forEach((l, i) =>
        this.meta.putLayer({ digest: l.digest, diffID: diffIDs[i]!, mediaType: l.mediaType, size: l.size }),
      );
      this.meta.putManifest({
        digest: manifestDigest,
        mediaType: mType,
        size: mData.length,
        configDigest,
        layers: manifest.layers.map((l) => l.digest),
        manifests: [],
      });
      for (const w of writes) w();
      this.keepDisplaced(record, configDigest);
      this.meta.putImage({
        name: record,
        target: { digest: target.digest, mediaType: top.mediaType, size: data.length },
        configDigest,
      });
      // A name makes the dangling record of the same image unnecessary.
      if (fullName !== undefined) this.dropDangling(configDigest);
    });
    return configDigest;
  }

  /** Writes a config and an OCI manifest over `layers` (already stored) and records the image. */
  async createImage(
    name: string | undefined,
    config: ConfigJSON,
    layers: readonly DescriptorJSON[],
    opts: CreateImageOptions = {},
  ): Promise<{ id: Digest; manifest: Descriptor }> {
    const cfg = await this.content.put(canonical(normalizeConfig(config)));
    return this.createImageFromConfig(name, cfg, layers, opts);
  }

  /** Like createImage, for a config blob already stored (its bytes, and so the image ID, kept as they are). */
  async createImageFromConfig(
    name: string | undefined,
    cfg: Descriptor,
    layers: readonly DescriptorJSON[],
    opts: CreateImageOptions = {},
  ): Promise<{ id: Digest; manifest: Descriptor }> {
    const manifest: ManifestJSON = {
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: { mediaType: MT.ociConfig, digest: cfg.digest, size: cfg.size },
      layers: layers.map((l) => ({ mediaType: ociLayerType(l.mediaType), digest: l.digest, size: l.size })),
    };
    if (opts.annotations) manifest.annotations = opts.annotations;
    const md = await this.content.put(canonical(manifest));
    const id = await this.putImage(name, { ...md, mediaType: MT.ociManifest });
    return { id, manifest: md };
  }

  /** Records a layer blob the caller stored (with its sizes, which putImage cannot know). */
  recordLayer(l: LayerDescriptor): void {
    this.meta.putLayer({
      digest: l.digest,
      diffID: l.diffID,
      mediaType: l.mediaType,
      size: l.size,
      uncompressedSize: l.uncompressedSize,
    });
  }

  // ---- resolving -----------------------------------------------------------

  /**
   * Finds an image by ID (full "sha256:…" or a hex prefix of at least 4),
   * by name ("busybox", "busybox:1.36", "x@sha256:…"). NotFound otherwise.
   */
  async resolve(ref: string): Promise<ResolvedImage> {
    const all = this.meta.listImages();
    const idMatch = /^(?:sha256:)?([0-9a-f]{4,64})$/.exec(ref);
    if (idMatch) {
      const hex = idMatch[1]!;
      const ids = new Set(
        all.filter((r) => r.configDigest?.startsWith(`sha256:${hex}`)).map((r) => r.configDigest!),
      );
      if (ids.size > 1) throw invalid(`ambiguous image ID prefix ${ref}`);
      const id = [...ids][0];
      if (id !== undefined) return this.load(id, all);
      if (ref.startsWith("sha256:")) throw notFound(`No such image: ${ref}`);
    }
    let parsed;
    try {
      parsed = parseReference(ref);
    } catch (err) {
      if (err instanceof PierError && err.kind === "InvalidArgument") throw notFound(`No such image: ${ref}`);
      throw err;
    }
    const repo = repository(parsed);
    let rec: ImageRecord | undefined;
    if (parsed.digest !== undefined) {
      rec =
        all.find((r) => r.name === `${repo}@${parsed.digest}`) ??
        all.find((r) => !isDangling(r) && nameRepo(r.name) === repo && r.target.digest === parsed.digest);
    } else {
      rec = all.find((r) => r.name === `${repo}:${parsed.tag}`);
    }
    if (!rec?.configDigest) throw notFound(`No such image: ${familiarOrRaw(ref)}`);
    const img = await this.load(rec.configDigest, all);
    img.matched = rec;
    return img;
  }

  private async load(id: Digest, all: ImageRecord[]): Promise<ResolvedImage> {
    const records = all.filter((r) => r.configDigest === id);
    const rec = records[0];
    if (!rec) throw notFound(`No such image: ${id}`);
    const data = await this.content.read(rec.target.digest, { maxSize: MAX_MANIFEST });
    const top = parseManifest(data, rec.target.mediaType);
    let mDesc = { digest: rec.target.digest, size: data.length, mediaType: top.mediaType };
    let m = top;
    if (top.kind === "index") {
      const child = choosePlatform(top.doc);
      const cd = await this.content.read(child.digest, { maxSize: MAX_MANIFEST });
      m = parseManifest(cd, child.mediaType);
      mDesc = { digest: child.digest, size: cd.length, mediaType: m.mediaType };
    }
    if (m.kind !== "manifest") throw invalid(`nested index in ${rec.target.digest}`);
    const cData = await this.content.read(m.doc.config.digest, { maxSize: MAX_CONFIG });
    return {
      id,
      records,
      target: { digest: rec.target.digest, size: data.length, mediaType: top.mediaType },
      manifest: m.doc,
      manifestDescriptor: mDesc,
      config: parseConfig(cData),
      configDescriptor: {
        digest: m.doc.config.digest,
        size: cData.length,
        mediaType: m.doc.config.mediaType,
      },
    };
  }

  // ---- listing -------------------------------------------------------------

  async list(): Promise<ImageSummary[]> {
    const all = this.meta.listImages();
    const users = await this.rootfsUsers();
    const ids = [...new Set(all.map((r) => r.configDigest).filter((d): d is string => d !== undefined))];
    const out: ImageSummary[] = [];
    for (const id of ids) {
      const img = await this.load(id, all);
      const size = this.sizeOf(img);
      out.push({
        Id: id,
        ParentId: "",
        RepoTags: repoTags(img.records),
        RepoDigests: repoDigests(img.records),
        Created: img.config.created ? Math.floor(Date.parse(img.config.created) / 1000) : 0,
        Size: size,
        SharedSize: -1,
        VirtualSize: size,
        Labels: img.config.config?.Labels ?? {},
        Containers: users.get(id)?.length ?? 0,
      });
    }
    return out.sort((a, b) => b.Created - a.Created || a.Id.localeCompare(b.Id));
  }

  async inspect(ref: string): Promise<ImageInspect> {
    const img = await this.resolve(ref);
    const size = this.sizeOf(img);
    const chain = chainIDs(img.config.rootfs.diff_ids);
    const lastTag = Math.max(...img.records.map((r) => r.updated.getTime()));
    const out: ImageInspect = {
      Id: img.id,
      RepoTags: repoTags(img.records),
      RepoDigests: repoDigests(img.records),
      Parent: "",
      Comment: img.config.history?.at(-1)?.comment ?? "",
      Created: img.config.created ?? new Date(0).toISOString(),
      Container: "",
      DockerVersion: "",
      Author: img.config.author ?? "",
      Config: img.config.config ?? {},
      Architecture: img.config.architecture,
      Os: img.config.os,
      Size: size,
      VirtualSize: size,
      GraphDriver: {
        Name: this.snapshotter.name,
        Data: chain.length
          ? { ChainID: chain[chain.length - 1]!, ManifestDigest: img.manifestDescriptor.digest }
          : {},
      },
      RootFS: { Type: "layers", Layers: [...img.config.rootfs.diff_ids] },
      Metadata: { LastTagTime: new Date(lastTag).toISOString() },
    };
    if (img.config.variant !== undefined) out.Variant = img.config.variant;
    return out;
  }

  /** docker history: newest first, one row per history entry (empty layers with size 0). */
  async history(ref: string): Promise<HistoryEntry[]> {
    const img = await this.resolve(ref);
    const sizes = img.manifest.layers.map((l) => this.layerSize(l));
    const hist: HistoryJSON[] =
      img.config.history ??
      img.manifest.layers.map(() => ({ created_by: "", created: img.config.created ?? "" }));
    const rows: HistoryEntry[] = [];
    let li = 0;
    for (const h of hist) {
      const size = h.empty_layer ? 0 : (sizes[li++] ?? 0);
      rows.push({
        Id: "<missing>",
        Created: h.created ? Math.floor(Date.parse(h.created) / 1000) : 0,
        CreatedBy: h.created_by ?? "",
        Tags: null,
        Size: size,
        Comment: h.comment ?? "",
      });
    }
    rows.reverse();
    if (rows[0]) {
      rows[0].Id = img.id;
      const tags = repoTags(img.records);
      rows[0].Tags = tags.length ? tags : null;
    }
    return rows;
  }

  // ---- names -------------------------------------------------------------

  /** Points `target` (a name) at the image `source` resolves to. */
  async tag(source: string, target: string): Promise<void> {
    const img = await this.resolve(source);
    const ref = parseReference(target);
    if (ref.digest !== undefined) throw invalid(`cannot tag with a digest: ${target}`);
    const name = formatReference(ref);
    this.meta.transaction(() => {
      this.keepDisplaced(name, img.id);
      this.meta.putImage({ name, target: img.target, configDigest: img.id });
      this.dropDangling(img.id);
    });
  }

  /** docker rmi (see the file comment for the rules). */
  async remove(ref: string, opts: { force?: boolean } = {}): Promise<RemoveItem[]> {
    const img = await this.resolve(ref);
    const users = (await this.rootfsUsers()).get(img.id) ?? [];
    const named = img.records.filter((r) => !isDangling(r));
    const short = img.id.slice(7, 19);
    const out: RemoveItem[] = [];
    let untag: ImageRecord[];
    if (img.matched && !isDangling(img.matched)) {
      untag = [img.matched];
      if (named.length > 1) {
        this.meta.deleteImage(img.matched.name);
        return [{ Untagged: familiarReference(img.matched.name) }];
      }
      if (users.length && !opts.force)
        throw new PierError(
          "Conflict",
          `conflict: unable to remove repository reference "${ref}" (must force) - container ${users[0]} is using its referenced image ${short}`,
        );
    } else {
      untag = named;
      if (named.length > 1 && !opts.force)
        throw new PierError(
          "Conflict",
          `conflict: unable to delete ${short} (must be forced) - image is referenced in multiple repositories`,
        );
      if (users.length && !opts.force)
        throw new PierError(
          "Conflict",
          `conflict: unable to delete ${short} (must be forced) - image is being used by container ${users[0]}`,
        );
    }
    const keep = users.length > 0;
    this.meta.transaction(() => {
      for (const r of untag) {
        this.meta.deleteImage(r.name);
        out.push({ Untagged: familiarReference(r.name) });
      }
      const left = this.meta.listImages().filter((r) => r.configDigest === img.id);
      if (keep && left.length === 0) {
        this.meta.putImage({ name: img.target.digest, target: img.target, configDigest: img.id });
      } else if (!keep) {
        for (const r of left) if (isDangling(r)) this.meta.deleteImage(r.name);
      }
    });
    if (!keep && !this.meta.listImages().some((r) => r.configDigest === img.id)) {
      out.push({ Deleted: img.id });
      for (const d of await this.pruneSnapshots()) out.push({ Deleted: d });
    }
    return out;
  }

  /**
   * docker image prune: removes dangling images no rootfs uses (`all`: every
   * image no rootfs uses), the committed snapshots nothing needs, then
   * garbage-collects blobs (grace period as in collectGarbage).
   */
  async prune(
    opts: { all?: boolean } & GcOptions = {},
  ): Promise<{ ImagesDeleted: RemoveItem[]; SpaceReclaimed: number }> {
    const users = await this.rootfsUsers();
    const deleted: RemoveItem[] = [];
    const all = this.meta.listImages();
    const ids = new Set(all.map((r) => r.configDigest).filter((d): d is string => d !== undefined));
    for (const id of ids) {
      if (users.has(id)) continue;
      const recs = all.filter((r) => r.configDigest === id);
      if (!opts.all && recs.some((r) => !isDangling(r))) continue;
      this.meta.transaction(() => {
        for (const r of recs) this.meta.deleteImage(r.name);
      });
      for (const r of recs) if (!isDangling(r)) deleted.push({ Untagged: familiarReference(r.name) });
      deleted.push({ Deleted: id });
    }
    for (const d of await this.pruneSnapshots()) deleted.push({ Deleted: d });
    const gc = await collectGarbage(this.meta, this.content, opts);
    return { ImagesDeleted: deleted, SpaceReclaimed: gc.reclaimedBytes };
  }

  /**
   * Before `name` moves to image `id`: if it pointed at another image that has
   * no other name, that image stays, dangling (docker's `<none>`), until
   * prune; it may still be some container's image.
   */
  private keepDisplaced(name: string, id: Digest): void {
    let old: ImageRecord;
    try {
      old = this.meta.getImage(name);
    } catch {
      return;
    }
    if (old.configDigest === undefined || old.configDigest === id || isDangling(old)) return;
    const others = this.meta
      .listImages()
      .filter((r) => r.configDigest === old.configDigest && r.name !== name);
    if (others.length === 0)
      this.meta.putImage({ name: old.target.digest, target: old.target, configDigest: old.configDigest });
  }

  private dropDangling(id: Digest): void {
    for (const r of this.meta.listImages())
      if (r.configDigest === id && r.name.startsWith(DANGLING_PREFIX)) this.meta.deleteImage(r.name);
  }

  // ---- root file systems ---------------------------------------------------

  /**
   * Unpacks the image's layers (each once, into a committed snapshot named by
   * its chain ID, verified against its diffID) and prepares the active
   * snapshot `key` on top. Returns its mounts.
   */
  async prepareRootfs(
    ref: string,
    key: string,
    opts: { labels?: Record<string, string> } = {},
  ): Promise<Mount[]> {
    const img = await this.resolve(ref);
    const parent = await this.unpack(img);
    const labels = { ...(opts.labels ?? {}), [IMAGE_LABEL]: img.id };
    this.meta.transaction(() => this.meta.addRef(rootfsNode(key), blobNode(img.target.digest)));
    try {
      return await this.snapshotter.prepare(key, parent, { labels });
    } catch (err) {
      this.meta.transaction(() => this.meta.removeRefs(rootfsNode(key)));
      throw wrap(err, `prepare rootfs ${key}`);
    }
  }

  /** The mounts of a rootfs made by prepareRootfs (to mount it again after a stop). */
  async rootfsMounts(key: string): Promise<Mount[]> {
    return this.snapshotter.mounts(key);
  }

  /** Removes a rootfs made by prepareRootfs (unmount it first). */
  async removeRootfs(key: string): Promise<void> {
    await this.snapshotter.remove(key);
    this.meta.transaction(() => this.meta.removeRefs(rootfsNode(key)));
  }

  /** Makes sure every layer snapshot of the image exists; returns the top chain ID. */
  async unpack(img: ResolvedImage): Promise<string | undefined> {
    const diffIDs = img.config.rootfs.diff_ids;
    const chain = chainIDs(diffIDs);
    let parent: string | undefined;
    for (let i = 0; i < chain.length; i++) {
      const name = chain[i]!;
      const exists = await this.snapshotter.stat(name).then(
        (s) => s.kind === "committed",
        () => false,
      );
      if (!exists) {
        const layer = img.manifest.layers[i]!;
        const tmp = `extract-${process.pid}-${randomUUID()}`;
        try {
          const mounts = await this.snapshotter.prepare(tmp, parent);
          const res = await applyLayer(mounts, await this.content.reader(layer.digest), {
            expectedDiffID: diffIDs[i]!,
          });
          this.meta.putLayer({
            digest: layer.digest,
            diffID: res.diffID,
            mediaType: layer.mediaType,
            size: layer.size,
            uncompressedSize: res.size,
          });
          await this.snapshotter.commit(name, tmp, { labels: { "pier.layer": layer.digest } });
        } catch (err) {
          await this.snapshotter.remove(tmp).catch(() => undefined);
          // Someone else unpacked the same layer meanwhile: theirs is as good as ours.
          if (!(err instanceof PierError && err.kind === "AlreadyExists"))
            throw wrap(err, `unpack layer ${i + 1}/${chain.length} ${layer.digest}`);
        }
      }
      parent = name;
    }
    return parent;
  }

  /**
   * Turns the changes in the active snapshot `activeKey` into a new image:
   * the parent image's layers plus one layer with the diff, its config with
   * the changes applied and a history entry. Returns the new image's ID.
   */
  async commit(activeKey: string, opts: CommitOptions = {}): Promise<{ id: Digest; manifest: Descriptor }> {
    const info = await this.snapshotter.stat(activeKey);
    if (info.kind !== "active")
      throw new PierError("FailedPrecondition", `snapshot ${activeKey} is ${info.kind}`);
    const parentRef = opts.parentImage ?? info.labels[IMAGE_LABEL];
    const base = parentRef !== undefined ? await this.resolve(parentRef) : undefined;
    const baseTop = base ? chainIDs(base.config.rootfs.diff_ids).at(-1) : undefined;
    if (baseTop !== info.parent)
      throw invalid(`snapshot ${activeKey} is not on top of image ${parentRef ?? "(none)"}`);
    const upper = await this.snapshotter.mounts(activeKey);
    let layer: LayerDescriptor;
    const viewKey = `commit-view-${process.pid}-${randomUUID()}`;
    let lower: Mount[] | undefined;
    try {
      if (info.parent !== undefined) lower = await this.snapshotter.view(viewKey, info.parent);
      layer = await diffMounts(this.content, lower, upper, { compression: "gzip" });
    } catch (err) {
      throw wrap(err, `commit ${activeKey}`);
    } finally {
      if (lower) await this.snapshotter.remove(viewKey).catch(() => undefined);
    }
    this.recordLayer(layer);
    const created = goTime(opts.created ?? new Date());
    const parentConfig: ConfigJSON = base
      ? structuredClone(base.config)
      : { architecture: "amd64", os: "linux", config: {}, rootfs: { type: "layers", diff_ids: [] } };
    delete parentConfig.container;
    delete parentConfig.container_config;
    let cc = applyChanges(parentConfig.config ?? {}, opts.changes ?? []);
    if (opts.config) cc = { ...cc, ...opts.config };
    const hist: HistoryJSON = { created, created_by: opts.createdBy ?? "pier commit" };
    if (opts.author !== undefined) hist.author = opts.author;
    if (opts.comment !== undefined) hist.comment = opts.comment;
    const config: ConfigJSON = {
      ...parentConfig,
      created,
      config: cc,
      rootfs: { type: "layers", diff_ids: [...parentConfig.rootfs.diff_ids, layer.diffID] },
      history: [...(parentConfig.history ?? []), hist],
    };
    if (opts.author !== undefined) config.author = opts.author;
    else delete config.author;
    const layers: DescriptorJSON[] = [...(base?.manifest.layers ?? []), layer];
    return this.createImage(opts.name, config, layers);
  }

  // ---- helpers -------------------------------------------------------------

  /** image ID → keys of active snapshots (rootfs) made from it. */
  private async rootfsUsers(): Promise<Map<string, string[]>> {
    const m = new Map<string, string[]>();
    for (const s of await this.snapshotter.list()) {
      const id = s.labels[IMAGE_LABEL];
      if (s.kind === "committed" || id === undefined) continue;
      m.set(id, [...(m.get(id) ?? []), s.key]);
    }
    return m;
  }

  /** Removes committed layer snapshots (named by chain ID) no image needs and nothing stands on. */
  private async pruneSnapshots(): Promise<string[]> {
    const needed = new Set<string>();
    for (const r of this.meta.listImages()) {
      if (!r.configDigest) continue;
      try {
        for (const c of chainIDs(this.meta.getConfig(r.configDigest).diffIDs)) needed.add(c);
      } catch {
        // config metadata missing: keep everything (conservative)
        return [];
      }
    }
    const removed: string[] = [];
    for (;;) {
      const list = await this.snapshotter.list();
      const parents = new Set(list.map((s) => s.parent).filter((p): p is string => p !== undefined));
      const doomed = list.filter(
        (s) => s.kind === "committed" && isDigest(s.key) && !needed.has(s.key) && !parents.has(s.key),
      );
      if (doomed.length === 0) return removed;
      for (const s of doomed) {
        await this.snapshotter.remove(s.key);
        removed.push(s.key);
      }
    }
  }

  private layerSize(l: DescriptorJSON): number {
    try {
      return this.meta.getLayer(l.digest).uncompressedSize ?? l.size;
    } catch {
      return l.size;
    }
  }

  private sizeOf(img: ResolvedImage): number {
    return img.manifest.layers.reduce((n, l) => n + this.layerSize(l), 0);
  }
}

function nameRepo(name: string): string {
  const at = name.indexOf("@");
  if (at >= 0) return name.slice(0, at);
  const slash = name.lastIndexOf("/");
  const colon = name.lastIndexOf(":");
  return colon > slash ? name.slice(0, colon) : name;
}

function repoTags(records: ImageRecord[]): string[] {
  return records.filter((r) => !isDangling(r) && !r.name.includes("@")).map((r) => familiarReference(r.name));
}

function repoDigests(records: ImageRecord[]): string[] {
  const out = new Set<string>();
  for (const r of records) {
    if (isDangling(r)) continue;
    out.add(familiarReference(`${nameRepo(r.name)}@${r.target.digest}`));
  }
  return [...out];
}

function familiarOrRaw(ref: string): string {
  try {
    return familiarReference(ref);
  } catch {
    return ref;
  }
}
