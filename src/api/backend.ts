/**
 * What the API server needs from the engine, as narrow interfaces. The server's routes
 * translate HTTP ⇄ these calls and these records ⇄ docker's JSON; the engine and image
 * services implement them (the adapter in src/engine/images, composed in src/cmd/pierd.ts), and `memory/` holds an
 * in-memory implementation for tests and for running pierd before the real services.
 *
 * Vocabulary:
 *   ref     what the user typed: `busybox`, `busybox:1.36`, `localhost:5000/bb`, an image id
 *           (`sha256:<hex>`, or a unique hex prefix), or `name@sha256:…`. Backends resolve it.
 *   name    a tagged name, normalized (`docker.io/library/busybox:latest`) or already
 *           familiar (`busybox:latest`): the server familiarizes names for clients and
 *           that is idempotent.
 *   id      the image id: the digest of its config, `sha256:<64 hex>`.
 *
 * Errors: throw PierError. NotFound for an unknown ref (message `No such image: <ref>`, as
 * docker words it), Conflict when a remove is refused, InvalidArgument for a bad ref.
 * The server maps kinds to HTTP status in one place (server/errors.ts).
 *
 * Example (pull):
 *   const r = await images.pull("busybox", { auth }, (e) => log(e));
 *   // e: { id: "9ad63333ebc9", status: "Downloading", current: 1024, total: 2048 }
 *   // r: { name: "docker.io/library/busybox:latest", digest: "sha256:…", upToDate: false }
 */
import type { Readable } from "node:stream";

/** Progress of one step of a long operation, usually one layer (id = short layer digest). */
export interface ProgressEvent {
  id?: string;
  status: string;
  current?: number;
  total?: number;
}

export type ProgressSink = (e: ProgressEvent) => void;

/** Registry credentials as the client sent them (X-Registry-Auth, decoded). */
export interface RegistryAuth {
  username?: string;
  password?: string;
  serveraddress?: string;
  identitytoken?: string;
  registrytoken?: string;
}

export interface ImageInfo {
  id: string;
  /** Names that point at this image (normalized or familiar). */
  names: string[];
  /** `repository@sha256:…` for each registry the image came from or went to. */
  repoDigests: string[];
  parentId?: string;
  created: Date;
  /** Total unpacked size in bytes. */
  size: number;
  labels: Record<string, string>;
}

export interface ImageDetail extends ImageInfo {
  architecture: string;
  os: string;
  variant?: string;
  author?: string;
  comment?: string;
  /** The image config's `config` object (Env, Cmd, Entrypoint, WorkingDir, Labels, …), docker-cased. */
  config: Record<string, unknown>;
  /** diffIDs, bottom layer first. */
  layers: string[];
  lastTagTime?: Date;
}

export interface HistoryEntry {
  /** Image id for the entry that is an image, else undefined (docker prints `<missing>`). */
  id?: string;
  created: Date;
  createdBy: string;
  /** Names of the image at this entry (only for the top one). */
  tags: string[];
  size: number;
  comment: string;
}

export type RemovedItem = { untagged: string } | { deleted: string };

export interface PullResult {
  /** The normalized name that was pulled. */
  name: string;
  /** Digest of the manifest (or index) the tag points at. */
  digest: string;
  /** True when the image was already there and nothing was fetched. */
  upToDate: boolean;
}

export interface PushResult {
  tag: string;
  digest: string;
  /** Size of the manifest pushed. */
  size: number;
}

export interface LoadResult {
  /** Names loaded (normalized), and ids of untagged images loaded. */
  names: string[];
  ids: string[];
}

export interface ImageBackend {
  /** Images, newest first. `all` also lists intermediate (untagged parent) images. */
  list(opts: { all: boolean }): Promise<ImageInfo[]>;
  inspect(ref: string): Promise<ImageDetail>;
  history(ref: string): Promise<HistoryEntry[]>;
  /** Points `target` (a name, normalized by the backend) at the image `source` resolves to. */
  tag(source: string, target: string): Promise<void>;
  /** Untags `ref`; deletes the image when no name is left (or by id with `force`). */
  remove(ref: string, opts: { force: boolean; noPrune: boolean }): Promise<RemovedItem[]>;
  pull(
    ref: string,
    opts: { auth?: RegistryAuth; platform?: string },
    progress: ProgressSink,
  ): Promise<PullResult>;
  /** Pushes `ref` (a repository, with or without tag) to its registry. */
  push(ref: string, opts: { auth?: RegistryAuth }, progress: ProgressSink): Promise<PushResult>;
  /** A tar of these images (refs as given): docker-archive unless `format` says "oci". */
  save(refs: string[], opts?: { format?: "docker-archive" | "oci" }): Promise<Readable>;
  /** Loads a docker-archive or OCI layout tar. */
  load(archive: Readable, progress: ProgressSink): Promise<LoadResult>;
  /** Removes dangling images (or all unused ones with `all`). */
  prune(opts: { all: boolean }): Promise<{ removed: RemovedItem[]; spaceReclaimed: number }>;
  /**
   * A one-layer image from a root file system tarball (plain, gzip or zstd), as docker's
   * `POST /images/create?fromSrc=-`. Optional: the route refuses by name without it.
   */
  importRootfs?(
    tar: Readable,
    opts: { name?: string; changes: string[]; message?: string },
    progress: ProgressSink,
  ): Promise<{ id: string }>;
  /** Makes a base image with no network ("busybox[:tag]", "debian:SUITE"). Optional. */
  bootstrap?(name: string, progress: ProgressSink): Promise<{ id: string; name: string }>;
  /** Checks credentials against a registry's /v2/ (docker's POST /auth). Optional. */
  login?(auth: RegistryAuth): Promise<void>;
}

/** Facts about the host and the daemon, for /info and /version. */
export interface SystemBackend {
  info(): Promise<{ images: number; containers: { running: number; paused: number; stopped: number } }>;
}

/** Everything the server is built from. Later: containers, exec, volumes, networks, build. */
export interface Backends {
  images: ImageBackend;
  /** The container engine, exec and volumes (absent: those routes answer 404). */
  containers?: import("./server/routes/containers.ts").ContainerBackends;
  /** The network layer (absent: /networks answers 404). */
  networks?: import("../network/index.ts").NetworkManager;
  system?: SystemBackend;
  /** The image builder (absent: /build answers 404). */
  build?: import("./server/routes/build.ts").BuildBackend;
  /** The daemon's state directory, shown as DockerRootDir. */
  root: string;
}
