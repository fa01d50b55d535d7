/**
 * Names as the distribution spec and docker spell them, kept small and local
 * to the registry code:
 *
 *   repository  `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`
 *   tag         `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`
 *   reference   `[registry/]repository[:tag][@digest]`, e.g. `127.0.0.1:5000/x/y:1.0`
 *
 * The first path component is a registry when it contains "." or ":" or is
 * "localhost"; otherwise the registry is docker.io and a one-component
 * repository gets "library/" (docker's rule).
 */
import { invalid } from "../common/errors.ts";
import { isDigest } from "../image/digest.ts";

export const DEFAULT_REGISTRY = "docker.io";
/** Where docker.io's distribution API actually lives. */
export const DOCKER_HUB_ENDPOINT = "registry-1.docker.io";

const COMPONENT = "[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*";
const REPOSITORY_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const DOMAIN_RE =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$/;

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

export function parseReference(s: string): RegistryReference {
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) throw invalid(`reference ${s}: invalid digest`);
  }
  let tag: string | undefined;
  const slash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!isTag(tag)) throw invalid(`reference ${s}: invalid tag ${JSON.stringify(tag)}`);
  }
  let registry = DEFAULT_REGISTRY;
  const first = rest.indexOf("/");
  if (first >= 0) {
    const head = rest.slice(0, first);
    if (head.includes(".") || head.includes(":") || head === "localhost") {
      if (!DOMAIN_RE.test(head)) throw invalid(`reference ${s}: invalid registry ${JSON.stringify(head)}`);
      registry = head;
      rest = rest.slice(first + 1);
    }
  }
  if (registry === DEFAULT_REGISTRY && !rest.includes("/")) rest = `library/${rest}`;
  if (!isRepositoryName(rest))
    throw invalid(`reference ${s}: invalid repository name ${JSON.stringify(rest)}`);
  if (tag === undefined && digest === undefined) tag = "latest";
  const ref: RegistryReference = { registry, repository: rest };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
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
