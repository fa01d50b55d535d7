/**
 * Image references as docker spells them: `busybox` is `docker.io/library/busybox:latest`
 * in full ("normalized") and `busybox:latest` for people ("familiar"). Shared by the API
 * server (which answers with familiar names, as dockerd does) and the in-memory backend.
 */
import { invalid } from "../common/errors.ts";

export const DEFAULT_DOMAIN = "docker.io";
const OFFICIAL = "library/";

export interface Reference {
  /** Registry host, e.g. "docker.io" or "localhost:5000". */
  domain: string;
  /** Repository path inside the registry, e.g. "library/busybox". */
  path: string;
  tag?: string;
  digest?: string;
}

const NAME_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG_RE = /^[\w][\w.-]{0,127}$/;

export function parseReference(ref: string): Reference {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) throw invalid(`invalid reference format: ${ref}`);
  }
  let domain = DEFAULT_DOMAIN;
  let path = rest;
  const slash = rest.indexOf("/");
  const first = slash < 0 ? "" : rest.slice(0, slash);
  if (
    first &&
    (first.includes(".") || first.includes(":") || first === "localhost" || first !== first.toLowerCase())
  ) {
    domain = first;
    path = rest.slice(slash + 1);
  }
  if (domain === "index.docker.io") domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !path.includes("/")) path = OFFICIAL + path;
  if (!NAME_RE.test(path)) {
    throw invalid(
      path !== path.toLowerCase()
        ? `invalid reference format: repository name (${path}) must be lowercase`
        : `invalid reference format: ${ref}`,
    );
  }
  const r: Reference = { domain, path };
  if (tag !== undefined) r.tag = tag;
  if (digest !== undefined) r.digest = digest;
  return r;
}

/** `docker.io/library/busybox:latest` (a tag of "latest" is added when there is neither tag nor digest). */
export function normalize(ref: string): string {
  const r = parseReference(ref);
  const tag = r.tag ?? (r.digest === undefined ? "latest" : undefined);
  return `${r.domain}/${r.path}${tag === undefined ? "" : `:${tag}`}${r.digest === undefined ? "" : `@${r.digest}`}`;
}

/** The repository part only, normalized: `docker.io/library/busybox`. */
export function repository(ref: string): string {
  const r = parseReference(ref);
  return `${r.domain}/${r.path}`;
}

/** `docker.io/library/busybox:latest` → `busybox:latest`; `docker.io/u/x` → `u/x`. */
export function familiar(name: string): string {
  let s = name;
  if (s.startsWith(`${DEFAULT_DOMAIN}/`)) {
    s = s.slice(DEFAULT_DOMAIN.length + 1);
    if (s.startsWith(OFFICIAL) && !s.slice(OFFICIAL.length).includes("/")) s = s.slice(OFFICIAL.length);
  }
  return s;
}
