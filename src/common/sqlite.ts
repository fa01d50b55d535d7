/**
 * SQLite through better-sqlite3, set up the one way pier uses it: WAL (readers
 * never block the writer), a busy timeout (several `pier` processes may write
 * at once; each waits its turn), synchronous=FULL (a committed transaction
 * survives power loss), foreign keys on, and schema versions in
 * `PRAGMA user_version` applied in order inside one IMMEDIATE transaction.
 *
 * better-sqlite3 ships no types; the small surface pier uses is declared here.
 * Shared by every SQLite-backed store (images, snapshots, registry, networks).
 */
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { mkdirSync } from "node:fs";
import { PierError } from "./errors.ts";

export interface RunResult {
  changes: number;
  lastInsertRowid: number | bigint;
}

export interface Statement<R = unknown> {
  run(...params: unknown[]): RunResult;
  get(...params: unknown[]): R | undefined;
  all(...params: unknown[]): R[];
}

export interface Transaction<A extends unknown[], R> {
  (...args: A): R;
  deferred(...args: A): R;
  immediate(...args: A): R;
  exclusive(...args: A): R;
}

export interface Database {
  prepare<R = unknown>(sql: string): Statement<R>;
  exec(sql: string): Database;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  transaction<A extends unknown[], R>(fn: (...args: A) => R): Transaction<A, R>;
  close(): void;
  readonly inTransaction: boolean;
  readonly open: boolean;
  readonly name: string;
}

type DatabaseConstructor = new (path: string, options?: { timeout?: number; readonly?: boolean }) => Database;

const require = createRequire(import.meta.url);
let ctor: DatabaseConstructor | undefined;
function sqlite(): DatabaseConstructor {
  ctor ??= require("better-sqlite3") as DatabaseConstructor;
  return ctor;
}

/** One schema step: SQL to execute, in order; never edit a released step, add a new one. */
export type Migration = string;

export interface OpenOptions {
  /** How long a writer waits for another process's write lock (ms, default 10 s). */
  busyTimeoutMs?: number;
}

/**
 * Opens (creating if needed) the database at `path` and brings its schema to
 * `migrations.length`. A database written by a newer pier is refused.
 */
export function openDatabase(
  path: string,
  migrations: readonly Migration[],
  opts: OpenOptions = {},
): Database {
  mkdirSync(dirname(path), { recursive: true });
  const Db = sqlite();
  const db = new Db(path, { timeout: opts.busyTimeoutMs ?? 10_000 });
  try {
    retryBusy(() => db.pragma("journal_mode = WAL"));
    db.pragma("synchronous = FULL");
    db.pragma("foreign_keys = ON");
    retryBusy(() =>
      db
        .transaction(() => {
          const version = db.pragma("user_version", { simple: true }) as number;
          if (version > migrations.length) {
            throw new PierError(
              "FailedPrecondition",
              `${path}: schema version ${version} is newer than this pier knows (${migrations.length})`,
              { hint: "use the pier that wrote it, or a newer one" },
            );
          }
          for (let v = version; v < migrations.length; v++) db.exec(migrations[v]!);
          if (version !== migrations.length) db.pragma(`user_version = ${migrations.length}`);
        })
        .immediate(),
    );
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/**
 * Runs `fn` in an IMMEDIATE transaction (the write lock is taken at BEGIN, so
 * two writers never deadlock upgrading read locks). Inside another transaction
 * it just runs (as a savepoint).
 */
export function immediate<T>(db: Database, fn: () => T): T {
  if (db.inTransaction) return db.transaction(fn)();
  return retryBusy(() => db.transaction(fn).immediate());
}

/** The busy timeout covers most waits; SQLITE_BUSY can still surface in a few cases (WAL recovery). */
function retryBusy<T>(fn: () => T): T {
  for (let attempt = 0; ; attempt++) {
    try {
      return fn();
    } catch (err) {
      const code = (err as { code?: string }).code;
      if ((code === "SQLITE_BUSY" || code === "SQLITE_BUSY_RECOVERY") && attempt < 50) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20 + Math.random() * 30);
        continue;
      }
      if (code === "SQLITE_BUSY") throw new PierError("Unavailable", "database is busy", { cause: err });
      throw err;
    }
  }
}
