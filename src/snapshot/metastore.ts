/**
 * A snapshotter's own metadata, in `<root>/metadata.db` (SQLite): one row per
 * snapshot with a numeric id that never repeats (AUTOINCREMENT), so its
 * directory `snapshots/<id>` has a short, stable name (overlay lowerdir
 * strings stay short) that survives the key → name change of commit.
 *
 * Every method is one IMMEDIATE transaction; the `inTx` callbacks run inside
 * it, which is how directory renames and row changes succeed or fail together.
 */
import { PierError } from "../common/errors.ts";
import { immediate, openDatabase, type Database } from "../common/sqlite.ts";
import type { Info, Kind, Usage } from "./snapshotter.ts";

const MIGRATIONS = [
  `CREATE TABLE snapshots (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     key TEXT NOT NULL UNIQUE,
     parent_id INTEGER REFERENCES snapshots(id),
     kind TEXT NOT NULL CHECK (kind IN ('active', 'view', 'committed')),
     labels TEXT NOT NULL DEFAULT '{}',
     size INTEGER,
     inodes INTEGER,
     created INTEGER NOT NULL,
     updated INTEGER NOT NULL
   );
   CREATE INDEX snapshots_parent ON snapshots(parent_id);`,
];

export interface Row {
  id: number;
  key: string;
  parent_id: number | null;
  parent_key: string | null;
  kind: Kind;
  labels: string;
  size: number | null;
  inodes: number | null;
  created: number;
  updated: number;
}

const SELECT = `SELECT s.*, p.key AS parent_key FROM snapshots s LEFT JOIN snapshots p ON p.id = s.parent_id`;

export class MetaStore {
  private readonly db: Database;

  constructor(path: string) {
    this.db = openDatabase(path, MIGRATIONS);
  }

  close(): void {
    this.db.close();
  }

  get(key: string): Row {
    const row = this.db.prepare<Row>(`${SELECT} WHERE s.key = ?`).get(key);
    if (!row) throw new PierError("NotFound", `snapshot ${key} not found`);
    return row;
  }

  /** The ids of `id`'s ancestors, nearest first. */
  chain(id: number): number[] {
    return this.db
      .prepare<{ id: number }>(
        `WITH RECURSIVE up(id, parent_id, depth) AS (
           SELECT id, parent_id, 0 FROM snapshots WHERE id = ?
           UNION ALL
           SELECT s.id, s.parent_id, up.depth + 1 FROM snapshots s JOIN up ON s.id = up.parent_id
         ) SELECT id FROM up WHERE depth > 0 ORDER BY depth`,
      )
      .all(id)
      .map((r) => r.id);
  }

  /** Checks that `key` is free and `parent` usable; returns the parent row. */
  check(key: string, parent: string | undefined): Row | undefined {
    if (!key) throw new PierError("InvalidArgument", "snapshot key must not be empty");
    if (this.db.prepare("SELECT 1 FROM snapshots WHERE key = ?").get(key)) {
      throw new PierError("AlreadyExists", `snapshot ${key} already exists`);
    }
    if (parent === undefined) return undefined;
    const p = this.get(parent);
    if (p.kind !== "committed") {
      throw new PierError("FailedPrecondition", `parent ${parent} is ${p.kind}, not committed`);
    }
    return p;
  }

  create(
    kind: Kind,
    key: string,
    parent: string | undefined,
    labels: Record<string, string>,
    inTx: (id: number) => void,
  ): Row {
    return immediate(this.db, () => {
      const p = this.check(key, parent);
      const now = Date.now();
      const r = this.db
        .prepare(
          "INSERT INTO snapshots (key, parent_id, kind, labels, created, updated) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .run(key, p?.id ?? null, kind, JSON.stringify(labels), now, now);
      const id = Number(r.lastInsertRowid);
      inTx(id);
      return this.get(key);
    });
  }

  commit(name: string, key: string, usage: Usage, labels: Record<string, string> | undefined): void {
    immediate(this.db, () => {
      const row = this.get(key);
      if (row.kind !== "active") {
        throw new PierError(
          "FailedPrecondition",
          `snapshot ${key} is ${row.kind}; only active snapshots commit`,
        );
      }
      if (this.db.prepare("SELECT 1 FROM snapshots WHERE key = ?").get(name)) {
        throw new PierError("AlreadyExists", `snapshot ${name} already exists`);
      }
      const merged = { ...(JSON.parse(row.labels) as Record<string, string>), ...labels };
      this.db
        .prepare(
          "UPDATE snapshots SET key = ?, kind = 'committed', labels = ?, size = ?, inodes = ?, updated = ? WHERE id = ?",
        )
        .run(name, JSON.stringify(merged), usage.size, usage.inodes, Date.now(), row.id);
    });
  }

  remove(key: string, inTx: (row: Row) => void): Row {
    return immediate(this.db, () => {
      const row = this.get(key);
      const child = this.db
        .prepare<{ key: string }>("SELECT key FROM snapshots WHERE parent_id = ? LIMIT 1")
        .get(row.id);
      if (child) {
        throw new PierError("FailedPrecondition", `snapshot ${key} has children (e.g. ${child.key})`, {
          hint: "remove its children first",
        });
      }
      this.db.prepare("DELETE FROM snapshots WHERE id = ?").run(row.id);
      inTx(row);
      return row;
    });
  }

  list(): Row[] {
    return this.db.prepare<Row>(`${SELECT} ORDER BY s.id`).all();
  }

  /** Runs `fn` holding the write lock (cleanup decides what is orphaned under it). */
  locked<T>(fn: () => T): T {
    return immediate(this.db, fn);
  }

  ids(): Set<number> {
    return new Set(
      this.db
        .prepare<{ id: number }>("SELECT id FROM snapshots")
        .all()
        .map((r) => r.id),
    );
  }
}

export function infoOf(r: Row): Info {
  const info: Info = {
    key: r.key,
    kind: r.kind,
    labels: JSON.parse(r.labels) as Record<string, string>,
    created: new Date(r.created),
    updated: new Date(r.updated),
  };
  if (r.parent_key !== null) info.parent = r.parent_key;
  return info;
}
