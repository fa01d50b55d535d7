/**
 * Names as the distribution spec and docker spell them (references are parsed by
 * the image layer's parser, src/image/service/reference.ts, so both agree):
 *
 *   repository  `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`
 *   tag         `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`
 *   reference   `[registry/]repository[:tag][@digest]`, e.g. `127.0.0.1:5000/x/y:1.0`
 *
 * The first path component is a registry when it contains "." or ":" or is
 * "localhost"; otherwise the registry is docker.io and a one-component
 * repository gets "library/" (docker's rule).
 */
import { parseReference as parseImageReference } from "../image/service/reference.ts";

export const DEFAULT_REGISTRY = "docker.io";
/** Where docker.io's distribution API actually lives. */
export const DOCKER_HUB_ENDPOINT = "registry-1.docker.io";

const COMPONENT = "[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*";
const REPOSITORY_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

export function isRepositoryName(s: string): boolean {
  return s.length <= 255 && REPOSITORY_RE.test(s);
}

export function isTag(s: string): boolean {
  return TAG_RE.test(s);
}

export interface RegistryReference {
  /** "127.0.0.1:5000", "docker.io". */
  registry: string;
  /** "library/busybox". */
  repository: string;
  tag?: string;
  digest?: string;
}

/** Parses `[registry/]repository[:tag][@digest]` by docker's rules (the image layer's parser). */
export function parseReference(s: string): RegistryReference {
  const r = parseImageReference(s);
  const ref: RegistryReference = { registry: r.domain, repository: r.path };
  if (r.tag !== undefined) ref.tag = r.tag;
  if (r.digest !== undefined) ref.digest = r.digest;
  return ref;
}

export function formatReference(r: RegistryReference): string {
  return `${r.registry}/${r.repository}${r.tag === undefined ? "" : `:${r.tag}`}${r.digest === undefined ? "" : `@${r.digest}`}`;
}

// ---- media types ----------------------------------------------------------------

export const MEDIA = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociEmpty: "application/vnd.oci.empty.v1+json",
} as const;

export const MANIFEST_TYPES: readonly string[] = [
  MEDIA.ociManifest,
  MEDIA.ociIndex,
  MEDIA.dockerManifest,
  MEDIA.dockerList,
];

export const isIndexType = (t: string) => t === MEDIA.ociIndex || t === MEDIA.dockerList;

export interface OciDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string; variant?: string };
}

/** The fields of a manifest or index the registry code reads. */
export interface ParsedManifest {
  mediaType?: string;
  artifactType?: string;
  config?: OciDescriptor;
  layers?: OciDescriptor[];
  manifests?: OciDescriptor[];
  subject?: OciDescriptor;
  annotations?: Record<string, string>;
}
