/**
 * Image references as docker reads them (distribution/reference):
 *
 *   busybox                      → docker.io/library/busybox:latest
 *   user/app:1.0                 → docker.io/user/app:1.0
 *   localhost:5000/x:tag         → localhost:5000/x:tag
 *   name@sha256:<hex>            → docker.io/library/name@sha256:<hex> (no default tag)
 *   name:tag@sha256:<hex>        → both kept; the digest wins when resolving
 *
 * The first path component is a registry domain when it contains "." or ":"
 * or is "localhost"; otherwise the registry is docker.io, and a single
 * component gets docker's "library/". Repository names must be lowercase; a
 * 64-hex string alone is refused as a name (it would be mistaken for an ID).
 */
import { invalid } from "../../common/errors.ts";
import { parseDigest } from "../digest.ts";

export const DEFAULT_DOMAIN = "docker.io";
export const DEFAULT_TAG = "latest";

export interface Reference {
  /** Registry host (and port): "docker.io", "localhost:5000". */
  domain: string;
  /** Repository path within the registry: "library/busybox". */
  path: string;
  tag?: string;
  digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN_COMPONENT = /^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const MAX_NAME = 255;

/** Parses and normalizes; `defaultTag` (default true) adds ":latest" when neither tag nor digest is given. */
export function parseReference(s: string, opts: { defaultTag?: boolean } = {}): Reference {
  if (!s) throw invalid("invalid reference format: empty");
  let rest = s;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    try {
      parseDigest(digest);
    } catch (err) {
      throw invalid(`invalid reference format: ${s}: ${(err as Error).message}`);
    }
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(`invalid reference format: bad tag ${JSON.stringify(tag)} in ${s}`);
  }
  if (/^[a-f0-9]{64}$/.test(rest))
    throw invalid(`invalid repository name (${rest}), cannot specify 64-byte hexadecimal strings`);
  const parts = rest.split("/");
  let domain = DEFAULT_DOMAIN;
  const first = parts[0]!;
  if (parts.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost")) {
    domain = first;
    parts.shift();
    checkDomain(domain, s);
  }
  if (domain === "index.docker.io") domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && parts.length === 1) parts.unshift("library");
  for (const p of parts) {
    if (!COMPONENT.test(p)) {
      if (COMPONENT.test(p.toLowerCase()))
        throw invalid(`invalid reference format: repository name (${rest}) must be lowercase`);
      throw invalid(`invalid reference format: ${JSON.stringify(s)}`);
    }
  }
  const path = parts.join("/");
  if (domain.length + 1 + path.length > MAX_NAME)
    throw invalid(`invalid reference format: repository name must not be longer than ${MAX_NAME}`);
  const ref: Reference = { domain, path };
  if (tag !== undefined) ref.tag = tag;
  else if (digest === undefined && opts.defaultTag !== false) ref.tag = DEFAULT_TAG;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

function checkDomain(domain: string, s: string): void {
  const colon = domain.lastIndexOf(":");
  const host = colon >= 0 ? domain.slice(0, colon) : domain;
  const port = colon >= 0 ? domain.slice(colon + 1) : undefined;
  const ipv6 = /^\[[0-9a-fA-F:.]+\]$/.test(host);
  if (!ipv6 && !host.split(".").every((c) => DOMAIN_COMPONENT.test(c)))
    throw invalid(`invalid reference format: bad registry ${JSON.stringify(domain)} in ${s}`);
  if (port !== undefined && !/^[0-9]+$/.test(port))
    throw invalid(`invalid reference format: bad port in ${JSON.stringify(domain)}`);
}

/** "docker.io/library/busybox" */
export function repository(r: Reference): string {
  return `${r.domain}/${r.path}`;
}

/** The normalized string: "docker.io/library/busybox:latest", "localhost:5000/x@sha256:…". */
export function formatReference(r: Reference): string {
  return `${repository(r)}${r.tag !== undefined ? `:${r.tag}` : ""}${r.digest !== undefined ? `@${r.digest}` : ""}`;
}

/** Parses and formats in one step. */
export function normalizeReference(s: string): string {
  return formatReference(parseReference(s));
}

/** Docker's short form for display: "busybox:latest", "user/app:1.0", "localhost:5000/x:tag". */
export function familiarReference(s: string): string {
  const r = parseReference(s, { defaultTag: false });
  let repo = repository(r);
  if (r.domain === DEFAULT_DOMAIN) repo = r.path.startsWith("library/") ? r.path.slice(8) : r.path;
  return `${repo}${r.tag !== undefined ? `:${r.tag}` : ""}${r.digest !== undefined ? `@${r.digest}` : ""}`;
}
