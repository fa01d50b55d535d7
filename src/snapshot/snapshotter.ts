/**
 * Snapshotters: how pier stores layered file systems. The vocabulary is
 * containerd's, so that its documentation and intuitions carry over.
 *
 * A snapshot is a directory tree that is either
 *   - **active**: writable, being changed (a container's root file system, or
 *     a layer being unpacked). It has a **key**, chosen by the caller, and can
 *     be mounted with `mounts(key)`;
 *   - **view**: like active, but read-only; made with `view()`, never committed;
 *   - **committed**: frozen, with a **name** (e.g. the chain ID of the layers
 *     in it). It cannot be mounted itself; it is a **parent** of others.
 * Keys and names share one namespace: `commit(name, key)` turns the active
 * snapshot `key` into the committed snapshot `name`, after which `key` no
 * longer exists. A snapshot's **parent** must be committed; the new snapshot
 * starts out with its parent's content, and what it changes stays its own.
 * Parents cannot be removed while they have children.
 *
 * Allowed transitions:
 *
 *     prepare(key, parent?) ──► active ──commit(name, key)──► committed
 *     view(key, parent?)    ──► view
 *     remove(key|name): any snapshot without children
 *
 * Worked example: unpacking an image of two layers, then running it.
 *
 *     let m = await sn.prepare("extract-1", undefined);   // empty, writable
 *     await applyLayer(m, layer1);                       // write into it
 *     await sn.commit(chain1, "extract-1");              // frozen as chain1
 *     m = await sn.prepare("extract-2", chain1);         // layer 1, writable
 *     await applyLayer(m, layer2);
 *     await sn.commit(chain2, "extract-2");
 *     const rootfs = await sn.prepare("ctr-abc", chain2); // container's own top
 *     await mountAll(rootfs, "/run/pier/ctr-abc/rootfs");
 *
 * `prepare` and `mounts` return `Mount` records (see mount.ts): how to make the
 * snapshot visible; the caller mounts them wherever it wants. Nothing here
 * mounts anything by itself.
 *
 * Errors (PierError kinds): NotFound (no such key/parent), AlreadyExists (key
 * or name taken), FailedPrecondition (parent not committed, commit of a
 * non-active snapshot, mounts of a committed one, removing a parent).
 */
import type { Mount } from "./mount.ts";

export type Kind = "active" | "view" | "committed";

export interface Info {
  /** The key (active, view) or name (committed). */
  key: string;
  /** The committed snapshot this one starts from. */
  parent?: string;
  kind: Kind;
  labels: Record<string, string>;
  created: Date;
  updated: Date;
}

export interface Usage {
  /** Bytes of disk this snapshot itself uses (not its parents). */
  size: number;
  /** Inodes this snapshot itself uses. */
  inodes: number;
}

export interface SnapshotOptions {
  labels?: Record<string, string>;
}

export interface Snapshotter {
  /** "overlayfs", "naive", … */
  readonly name: string;
  stat(key: string): Promise<Info>;
  list(): Promise<Info[]>;
  /** Space used by the snapshot itself (computed for active snapshots, recorded at commit otherwise). */
  usage(key: string): Promise<Usage>;
  /** How to mount an active snapshot or view. */
  mounts(key: string): Promise<Mount[]>;
  /** A new active snapshot `key` on top of the committed `parent` (or empty). */
  prepare(key: string, parent?: string, opts?: SnapshotOptions): Promise<Mount[]>;
  /** A new read-only view `key` of the committed `parent`. */
  view(key: string, parent?: string, opts?: SnapshotOptions): Promise<Mount[]>;
  /** Freezes the active snapshot `key` as the committed snapshot `name`. */
  commit(name: string, key: string, opts?: SnapshotOptions): Promise<void>;
  /** Removes a snapshot that has no children. Its mounts must have been unmounted. */
  remove(key: string): Promise<void>;
  /** Removes directories left behind by interrupted operations (crashes). */
  cleanup(): Promise<void>;
  close(): Promise<void>;
}
