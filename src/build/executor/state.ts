/**
 * Image states: what a build has after each step. A state is an image in the
 * content store (a config and a manifest over layer blobs, all recorded in the
 * metadata so GC follows their edges) that is usually NOT a named image: a
 * build's intermediate states live only as blobs kept alive by the build
 * cache (cache.ts), so `pier images` shows the images people asked for, not
 * one `<none>` per step. A state gets a name only when it is the result.
 *
 *   scratch ──COPY──► state 1 ──ENV──► state 2 (empty_layer history entry)
 *
 * Every child state is a new config (its ID is the config digest) with one
 * history entry more, and one layer more when the step changed files.
 *
 * Usage:
 *   const base = stateOfImage(await images.resolve("busybox"));
 *   const next = await childState(images, base, { config, history: { created_by: "ENV A=1", empty_layer: true } }, created);
 */
import type { Descriptor } from "../../image/content/store.ts";
import type { Digest } from "../../image/digest.ts";
import type { LayerDescriptor } from "../../image/layer/pack.ts";
import {
  canonical,
  hostPlatform,
  MT,
  normalizeConfig,
  ociLayerType,
  parseConfig,
  parseManifest,
  type ConfigJSON,
  type ContainerConfig,
  type HistoryJSON,
  type ManifestJSON,
} from "../../image/service/oci.ts";
import type { ImageService, ResolvedImage } from "../../image/service/service.ts";
import { PierError } from "../../common/errors.ts";
import { blobNode } from "../../image/store/metadata.ts";

/** The PATH BuildKit gives images built FROM scratch. */
export const DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface ImageState {
  /** The image ID (config digest), or "scratch" for the empty start of a `FROM scratch` stage. */
  id: string;
  config: ConfigJSON;
  manifest: ManifestJSON;
  /** What a name points at for this image (its manifest, or the base image's index); none for scratch. */
  target?: { digest: Digest; mediaType: string; size: number };
}

export function scratchState(): ImageState {
  const p = hostPlatform();
  return {
    id: "scratch",
    config: {
      architecture: p.architecture,
      os: p.os,
      config: { Env: [DEFAULT_PATH] },
      rootfs: { type: "layers", diff_ids: [] },
      history: [],
    },
    manifest: {
      schemaVersion: 2,
      mediaType: MT.ociManifest,
      config: { mediaType: MT.ociConfig, digest: "", size: 0 },
      layers: [],
    },
  };
}

export function stateOfImage(img: ResolvedImage): ImageState {
  return { id: img.id, config: img.config, manifest: img.manifest, target: { ...img.target } };
}

/** The ResolvedImage shape ImageService.unpack needs, for a state that may have no name. */
export function resolvedOf(s: ImageState): ResolvedImage {
  const target = s.target ?? { digest: "", mediaType: MT.ociManifest, size: 0 };
  return {
    id: s.id,
    records: [],
    target,
    manifest: s.manifest,
    manifestDescriptor: target,
    config: s.config,
    configDescriptor: { ...s.manifest.config, mediaType: s.manifest.config.mediaType },
  };
}

/** The state whose manifest is `digest` (a cache entry). */
export async function loadState(images: ImageService, digest: Digest): Promise<ImageState> {
  const data = await images.content.read(digest, { maxSize: 4 << 20 });
  const m = parseManifest(data);
  if (m.kind !== "manifest") throw new PierError("Internal", `build cache entry ${digest} is not a manifest`);
  const config = parseConfig(await images.content.read(m.doc.config.digest, { maxSize: 16 << 20 }));
  return {
    id: m.doc.config.digest,
    config,
    manifest: m.doc,
    target: { digest, mediaType: m.mediaType, size: data.length },
  };
}

export interface ChildChange {
  /** The new container config (Env, Cmd, WorkingDir, …). */
  config: ContainerConfig;
  /** The history entry (`empty_layer` is set when there is no layer). */
  history: HistoryJSON;
  /** The layer the step made, already in the content store. */
  layer?: LayerDescriptor;
}

/** Writes the state one step after `parent` and records its blobs' metadata. */
export async function childState(
  images: ImageService,
  parent: ImageState,
  change: ChildChange,
  created: string,
  /** A GC root that holds each blob from the moment it is stored (the build's lease). */
  lease?: string,
): Promise<ImageState> {
  const hold = (digest: string) => {
    if (lease !== undefined) images.meta.addRef(lease, blobNode(digest));
  };
  const base: ConfigJSON = structuredClone(parent.config);
  delete base.container;
  delete base.container_config;
  // History must account for every layer; images without history get an entry per layer.
  const history: HistoryJSON[] =
    base.history ?? base.rootfs.diff_ids.map(() => ({ created: base.created ?? created, created_by: "" }));
  const entry: HistoryJSON = { created, ...change.history };
  if (change.layer) delete entry.empty_layer;
  else entry.empty_layer = true;
  const config: ConfigJSON = {
    ...base,
    created,
    config: change.config,
    rootfs: {
      type: "layers",
      diff_ids: [...base.rootfs.diff_ids, ...(change.layer ? [change.layer.diffID] : [])],
    },
    history: [...history, entry],
  };
  const cfg: Descriptor = await images.content.put(canonical(normalizeConfig(config)));
  hold(cfg.digest);
  const layers = parent.manifest.layers.map((l) => ({
    mediaType: ociLayerType(l.mediaType),
    digest: l.digest,
    size: l.size,
  }));
  if (change.layer)
    layers.push({ mediaType: change.layer.mediaType, digest: change.layer.digest, size: change.layer.size });
  const manifest: ManifestJSON = {
    schemaVersion: 2,
    mediaType: MT.ociManifest,
    config: { mediaType: MT.ociConfig, digest: cfg.digest, size: cfg.size },
    layers,
  };
  const data = canonical(manifest);
  const md = await images.content.put(data);
  hold(md.digest);
  images.meta.transaction(() => {
    if (change.layer) images.recordLayer(change.layer);
    images.meta.putConfig({ digest: cfg.digest, size: cfg.size, diffIDs: config.rootfs.diff_ids });
    images.meta.putManifest({
      digest: md.digest,
      mediaType: MT.ociManifest,
      size: data.length,
      configDigest: cfg.digest,
      layers: layers.map((l) => l.digest),
      manifests: [],
    });
  });
  return {
    id: cfg.digest,
    config: normalizeConfig(config),
    manifest,
    target: { digest: md.digest, mediaType: MT.ociManifest, size: data.length },
  };
}

/** The 12-hex short form of an image ID, as docker prints it. */
export const shortId = (id: string): string => id.replace(/^sha256:/, "").slice(0, 12);
