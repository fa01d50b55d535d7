/**
 * Registries: a distribution-spec client and server over pier's content store.
 *
 *   client/  RegistryClient: pull (manifests, indexes → linux/amd64, blobs
 *            streamed into verified ingests, resumable), push (HEAD first,
 *            mount, monolithic or chunked upload), tags, referrers, deletes;
 *            basic and bearer-token auth from a docker-style `auths` map.
 *   server/  serve(): OCI distribution spec 1.1 over the content store, with
 *            its repositories, tags and referrers in SQLite.
 *
 * What the server implements (spec 1.1), and what it refuses by name:
 *
 *   | area            | supported                                                        | not (yet)                      |
 *   | --------------- | ---------------------------------------------------------------- | ------------------------------ |
 *   | pull            | manifests by tag/digest (HEAD/GET), blobs (HEAD/GET, Range)     | redirects to external storage  |
 *   | push            | POST+PUT, POST ?digest=, PATCH chunks (416 out of order), status | `?tag=` on manifest PUT        |
 *   |                 | GET, cancel, cross-repo mount `?mount=&from=`                    | mount without `from`: 202      |
 *   | manifests       | OCI manifest/index, docker v2 manifest/list; references checked  | schema1 (MANIFEST_INVALID)     |
 *   | discovery       | tags/list n/last + Link, referrers + artifactType, _catalog     |                                |
 *   | management      | delete manifest (by digest; its tags too), tag, blob; can be off | (405 UNSUPPORTED when off)     |
 *   | auth            | basic (plain or {SHA} passwords), bearer tokens from /token      | bcrypt htpasswd, TLS           |
 *   | digests         | sha256 uploads; sha256/sha512 manifest references                | chunked sha512 uploads         |
 */
export * from "./client/index.ts";
export * from "./server/index.ts";
export { REGISTRY_CODES, RegistryError, type RegistryCode } from "./errors.ts";
export { putBytes } from "./content.ts";
export {
  formatReference,
  isRepositoryName,
  isTag,
  MEDIA,
  parseReference,
  type OciDescriptor,
  type ParsedManifest,
  type RegistryReference,
} from "./reference.ts";
