/**
 * The image-spec documents the service reads and writes: OCI and Docker v2
 * schema2 manifests, OCI indexes and Docker manifest lists, image configs.
 * Anything else (schema1, unknown media types, artifacts) is refused by name.
 */
import { invalid, notImplemented } from "../../common/errors.ts";
import { isDigest } from "../digest.ts";

export const MT = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  ociLayout: "application/vnd.oci.image.layout.v1+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayer: "application/vnd.docker.image.rootfs.diff.tar",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  dockerForeign: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  dockerSchema1: "application/vnd.docker.distribution.manifest.v1+json",
  dockerSchema1Signed: "application/vnd.docker.distribution.manifest.v1+prettyjws",
} as const;

export const MANIFEST_TYPES: readonly string[] = [MT.ociManifest, MT.dockerManifest];
export const INDEX_TYPES: readonly string[] = [MT.ociIndex, MT.dockerList];
export const CONFIG_TYPES: readonly string[] = [MT.ociConfig, MT.dockerConfig];
export const LAYER_TYPES: readonly string[] = [
  MT.ociLayer,
  MT.ociLayerGzip,
  MT.ociLayerZstd,
  MT.dockerLayer,
  MT.dockerLayerGzip,
];

export interface DescriptorJSON {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
  urls?: string[];
  artifactType?: string;
}

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
  "os.version"?: string;
  "os.features"?: string[];
}

export interface ManifestJSON {
  schemaVersion: 2;
  mediaType?: string;
  config: DescriptorJSON;
  layers: DescriptorJSON[];
  annotations?: Record<string, string>;
}

export interface IndexJSON {
  schemaVersion: 2;
  mediaType?: string;
  manifests: DescriptorJSON[];
  annotations?: Record<string, string>;
}

/** The container config inside an image config (docker's names). */
export interface ContainerConfig {
  User?: string;
  ExposedPorts?: Record<string, object>;
  Env?: string[];
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Volumes?: Record<string, object>;
  WorkingDir?: string;
  Labels?: Record<string, string>;
  StopSignal?: string;
  [other: string]: unknown;
}

export interface HistoryJSON {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
}

export interface ConfigJSON {
  created?: string;
  author?: string;
  architecture: string;
  os: string;
  variant?: string;
  config?: ContainerConfig;
  rootfs: { type: string; diff_ids: string[] };
  history?: HistoryJSON[];
  [other: string]: unknown;
}

export type Parsed =
  | { kind: "manifest"; mediaType: string; doc: ManifestJSON }
  | { kind: "index"; mediaType: string; doc: IndexJSON };

function parseJSON(data: Buffer, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(data.toString("utf8"));
  } catch (err) {
    throw invalid(`${what} is not JSON: ${(err as Error).message}`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw invalid(`${what} is not a JSON object`);
  return v as Record<string, unknown>;
}

function checkDescriptor(d: unknown, what: string): DescriptorJSON {
  const o = d as Partial<DescriptorJSON> | null;
  if (!o || typeof o !== "object") throw invalid(`${what}: not a descriptor`);
  if (typeof o.mediaType !== "string") throw invalid(`${what}: mediaType missing`);
  if (typeof o.digest !== "string" || !isDigest(o.digest)) throw invalid(`${what}: bad digest`);
  if (typeof o.size !== "number" || !Number.isSafeInteger(o.size) || o.size < 0)
    throw invalid(`${what}: bad size`);
  return o as DescriptorJSON;
}

/**
 * Parses a manifest or index. The media type comes from the document, else
 * from `declared` (what a registry or descriptor said); they must agree.
 */
export function parseManifest(data: Buffer, declared?: string): Parsed {
  const o = parseJSON(data, "manifest");
  const inDoc = typeof o.mediaType === "string" ? o.mediaType : undefined;
  if (inDoc !== undefined && declared !== undefined && inDoc !== declared && declared !== "")
    throw invalid(`manifest says mediaType ${inDoc} but was described as ${declared}`);
  let mediaType = inDoc ?? declared;
  if (mediaType === undefined) mediaType = Array.isArray(o.manifests) ? MT.ociIndex : MT.ociManifest;
  if (mediaType === MT.dockerSchema1 || mediaType === MT.dockerSchema1Signed || o.schemaVersion === 1)
    throw notImplemented("Docker image manifest schema 1 is not implemented", "convert it with skopeo");
  if (o.schemaVersion !== 2) throw invalid(`manifest schemaVersion ${String(o.schemaVersion)} is not 2`);
  if (MANIFEST_TYPES.includes(mediaType)) {
    const config = checkDescriptor(o.config, "manifest config");
    if (!CONFIG_TYPES.includes(config.mediaType))
      throw notImplemented(`config media type ${config.mediaType} is not an image config`);
    if (!Array.isArray(o.layers)) throw invalid("manifest has no layers array");
    const layers = o.layers.map((l, i) => checkDescriptor(l, `layer ${i}`));
    for (const l of layers) {
      if (l.mediaType === MT.dockerForeign || l.urls)
        throw notImplemented(`foreign layers are not implemented (${l.digest})`);
      if (!LAYER_TYPES.includes(l.mediaType))
        throw notImplemented(`layer media type ${l.mediaType} is not implemented`);
    }
    return { kind: "manifest", mediaType, doc: o as unknown as ManifestJSON };
  }
  if (INDEX_TYPES.includes(mediaType)) {
    if (!Array.isArray(o.manifests)) throw invalid("index has no manifests array");
    o.manifests.forEach((m, i) => checkDescriptor(m, `index entry ${i}`));
    return { kind: "index", mediaType, doc: o as unknown as IndexJSON };
  }
  throw notImplemented(`manifest media type ${mediaType} is not implemented`);
}

export function parseConfig(data: Buffer): ConfigJSON {
  const o = parseJSON(data, "image config") as Partial<ConfigJSON>;
  if (typeof o.architecture !== "string" || typeof o.os !== "string")
    throw invalid("image config lacks architecture or os");
  const rootfs = o.rootfs;
  if (!rootfs || rootfs.type !== "layers" || !Array.isArray(rootfs.diff_ids))
    throw invalid("image config has no rootfs of type layers");
  for (const d of rootfs.diff_ids) if (typeof d !== "string" || !isDigest(d)) throw invalid("bad diff_id");
  return o as ConfigJSON;
}

/** This machine's platform, as Go names it. */
export function hostPlatform(): Platform {
  const arch: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386" };
  return { os: "linux", architecture: arch[process.arch] ?? process.arch };
}

/** The index entry for `platform` (exact variant preferred), skipping attestations. */
export function choosePlatform(index: IndexJSON, platform: Platform = hostPlatform()): DescriptorJSON {
  const candidates = index.manifests.filter(
    (m) =>
      m.platform?.os === platform.os &&
      m.platform.architecture === platform.architecture &&
      (MANIFEST_TYPES.includes(m.mediaType) || INDEX_TYPES.includes(m.mediaType)),
  );
  const exact = candidates.find((m) => (m.platform?.variant ?? "") === (platform.variant ?? ""));
  const pick = exact ?? candidates[0];
  if (pick) return pick;
  // An index without platforms (an OCI layout with one image) gives its only manifest.
  const plain = index.manifests.filter((m) => !m.platform && MANIFEST_TYPES.includes(m.mediaType));
  if (plain.length === 1) return plain[0]!;
  const have = index.manifests
    .map((m) => (m.platform ? `${m.platform.os}/${m.platform.architecture}` : "?"))
    .join(", ");
  throw invalid(
    `no manifest for ${platform.os}/${platform.architecture} in the index (has: ${have || "none"})`,
  );
}

/** OCI media type for a layer of either flavour (Docker's are equivalent). */
export function ociLayerType(mt: string): string {
  if (mt === MT.dockerLayerGzip) return MT.ociLayerGzip;
  if (mt === MT.dockerLayer) return MT.ociLayer;
  return mt;
}

/** JSON with keys in the order given (stable bytes for digests). */
export function canonical(v: unknown): Buffer {
  return Buffer.from(JSON.stringify(v));
}

/** A time as Go's RFC3339Nano writes it ("2026-05-07T20:33:45Z"), so Go tools re-encode it unchanged. */
export function goTime(d: Date): string {
  return d
    .toISOString()
    .replace(/(\.\d*?)0+Z$/, "$1Z")
    .replace(/\.Z$/, "Z");
}

const CONFIG_ORDER = [
  "created",
  "author",
  "architecture",
  "variant",
  "os",
  "os.version",
  "os.features",
  "config",
  "rootfs",
  "history",
];
const CONTAINER_ORDER = [
  "User",
  "ExposedPorts",
  "Env",
  "Entrypoint",
  "Cmd",
  "Volumes",
  "WorkingDir",
  "Labels",
  "StopSignal",
  "ArgsEscaped",
];
const HISTORY_ORDER = ["created", "created_by", "author", "comment", "empty_layer"];

function ordered<T extends object>(o: T, order: readonly string[]): T {
  const src = o as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const keys = [...order.filter((k) => k in src), ...Object.keys(src).filter((k) => !order.includes(k))];
  for (const k of keys) {
    const v = src[k];
    if (v === undefined || v === "" || v === null) continue;
    out[k] = v;
  }
  return out as T;
}

/**
 * An image config in the field order of the OCI Go types, without empty
 * fields: the bytes that skopeo, podman and containerd produce when they
 * re-encode it, so an image ID survives their conversions.
 */
export function normalizeConfig(c: ConfigJSON): ConfigJSON {
  const out = ordered(c, CONFIG_ORDER);
  if (c.config) out.config = ordered(c.config, CONTAINER_ORDER);
  if (c.history) out.history = c.history.map((h) => ordered(h, HISTORY_ORDER));
  return out;
}
