/**
 * What the overlay and plain-copy snapshotters share: a root directory
 *
 *   <root>/metadata.db            the MetaStore
 *   <root>/snapshots/<id>/fs      each snapshot's own files
 *   <root>/snapshots/new-<pid>-*  being created (renamed to <id> in the creating transaction)
 *   <root>/snapshots/rm-<id>      being removed (renamed in the removing transaction)
 *
 * and the lifecycle around it; subclasses say how a new snapshot's directory
 * is populated and how it is mounted.
 */
import { lstat, mkdtemp, readdir, rm } from "node:fs/promises";
import { mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { PierError, wrap } from "../common/errors.ts";
import { infoOf, MetaStore, type Row } from "./metastore.ts";
import type { Mount } from "./mount.ts";
import type { Info, Kind, SnapshotOptions, Snapshotter, Usage } from "./snapshotter.ts";

export abstract class DirectorySnapshotter implements Snapshotter {
  abstract readonly name: string;
  readonly root: string;
  protected readonly meta: MetaStore;
  protected readonly snapshots: string;

  protected constructor(root: string) {
    this.root = root;
    this.snapshots = join(root, "snapshots");
    mkdirSync(this.snapshots, { recursive: true });
    this.meta = new MetaStore(join(root, "metadata.db"));
  }

  /** Fills a new snapshot's directory `dir` (it will become snapshots/<id>). */
  protected abstract populate(dir: string, parent: Row | undefined, kind: Kind): Promise<void>;
  /** The mounts of an active snapshot or view; `chain` holds its ancestors' ids, nearest first. */
  protected abstract mountsOf(row: Row, chain: number[]): Mount[];

  /** The directory holding snapshot `id`'s own files. */
  fsDir(id: number): string {
    return join(this.snapshots, String(id), "fs");
  }

  async stat(key: string): Promise<Info> {
    return infoOf(this.meta.get(key));
  }

  async list(): Promise<Info[]> {
    return this.meta.list().map(infoOf);
  }

  async usage(key: string): Promise<Usage> {
    const row = this.meta.get(key);
    if (row.kind === "committed" && row.size !== null && row.inodes !== null) {
      return { size: row.size, inodes: row.inodes };
    }
    return diskUsage(this.fsDir(row.id));
  }

  async mounts(key: string): Promise<Mount[]> {
    const row = this.meta.get(key);
    if (row.kind === "committed") {
      throw new PierError("FailedPrecondition", `snapshot ${key} is committed; mount a view or child of it`);
    }
    return this.mountsOf(row, this.meta.chain(row.id));
  }

  prepare(key: string, parent?: string, opts: SnapshotOptions = {}): Promise<Mount[]> {
    return this.create("active", key, parent, opts);
  }

  view(key: string, parent?: string, opts: SnapshotOptions = {}): Promise<Mount[]> {
    return this.create("view", key, parent, opts);
  }

  private async create(
    kind: Kind,
    key: string,
    parent: string | undefined,
    opts: SnapshotOptions,
  ): Promise<Mount[]> {
    const parentRow = this.meta.check(key, parent);
    const tmp = await mkdtemp(join(this.snapshots, `new-${process.pid}-`));
    try {
      await this.populate(tmp, parentRow, kind);
      const row = this.meta.create(kind, key, parent, opts.labels ?? {}, (id) => {
        const dir = join(this.snapshots, String(id));
        // A directory by this id can only be a leftover of a crash mid-create (ids are never reused once committed).
        rmSync(dir, { recursive: true, force: true });
        renameSync(tmp, dir);
      });
      return this.mountsOf(row, this.meta.chain(row.id));
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err instanceof PierError ? err : wrap(err, `${kind === "view" ? "view" : "prepare"} ${key}`);
    }
  }

  async commit(name: string, key: string, opts: SnapshotOptions = {}): Promise<void> {
    const row = this.meta.get(key);
    if (row.kind !== "active") {
      throw new PierError(
        "FailedPrecondition",
        `snapshot ${key} is ${row.kind}; only active snapshots commit`,
      );
    }
    const usage = await diskUsage(this.fsDir(row.id));
    this.meta.commit(name, key, usage, opts.labels);
  }

  async remove(key: string): Promise<void> {
    const row = this.meta.remove(key, (r) => {
      try {
        renameSync(join(this.snapshots, String(r.id)), join(this.snapshots, `rm-${r.id}`));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw wrap(err, `remove snapshot ${key}`);
      }
    });
    await rm(join(this.snapshots, `rm-${row.id}`), { recursive: true, force: true });
  }

  async cleanup(): Promise<void> {
    const doomed = this.meta.locked(() => {
      const ids = this.meta.ids();
      return readdirSyncSafe(this.snapshots).filter((name) => {
        if (/^\d+$/.test(name)) return !ids.has(Number(name));
        const creating = /^new-(\d+)-/.exec(name);
        if (creating) return !processAlive(Number(creating[1]));
        return true;
      });
    });
    for (const name of doomed) await rm(join(this.snapshots, name), { recursive: true, force: true });
  }

  async close(): Promise<void> {
    this.meta.close();
  }
}

function readdirSyncSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Bytes (allocated blocks) and inodes under `dir`, each inode counted once. */
export async function diskUsage(dir: string): Promise<Usage> {
  const seen = new Set<string>();
  let size = 0;
  const walk = async (p: string): Promise<void> => {
    const st = await lstat(p, { bigint: true });
    const id = `${st.dev}:${st.ino}`;
    if (!seen.has(id)) {
      seen.add(id);
      size += Number(st.blocks) * 512;
    }
    if (st.isDirectory()) for (const n of await readdir(p)) await walk(join(p, n));
  };
  await walk(dir);
  return { size, inodes: seen.size };
}
