/**
 * What the registry knows beyond the content store, in its own SQLite file:
 *
 *   repo_blobs      a blob is visible in a repository once uploaded or mounted there
 *   repo_manifests  a manifest pushed to a repository, with what the referrers API lists
 *   tags            repository:tag → manifest digest
 *
 * The bytes live in the shared content store. When a MetadataStore is given,
 * every blob and manifest a repository holds is also a GC edge from
 * `registry:<repository>`, so pier's garbage collector keeps them.
 */
import { openDatabase, type Database, type Migration } from "../../common/sqlite.ts";
import { immediate } from "../../common/sqlite.ts";
import { blobNode, type MetadataStore } from "../../image/store/metadata.ts";

const MIGRATIONS: readonly Migration[] = [
  `CREATE TABLE repo_blobs (
     repo TEXT NOT NULL,
     digest TEXT NOT NULL,
     PRIMARY KEY (repo, digest)
   ) WITHOUT ROWID;
   CREATE INDEX repo_blobs_digest ON repo_blobs(digest);
   CREATE TABLE repo_manifests (
     repo TEXT NOT NULL,
     digest TEXT NOT NULL,
     media_type TEXT NOT NULL,
     size INTEGER NOT NULL,
     artifact_type TEXT,
     subject TEXT,
     annotations TEXT,
     created INTEGER NOT NULL,
     PRIMARY KEY (repo, digest)
   );
   CREATE INDEX repo_manifests_subject ON repo_manifests(repo, subject);
   CREATE TABLE tags (
     repo TEXT NOT NULL,
     tag TEXT NOT NULL,
     digest TEXT NOT NULL,
     PRIMARY KEY (repo, tag)
   ) WITHOUT ROWID;`,
];

export interface RepoManifest {
  digest: string;
  mediaType: string;
  size: number;
  artifactType?: string;
  subject?: string;
  annotations?: Record<string, string>;
}

interface ManifestRow {
  digest: string;
  media_type: string;
  size: number;
  artifact_type: string | null;
  subject: string | null;
  annotations: string | null;
}

const registryNode = (repo: string) => `registry:${repo}`;

export class Repositories {
  private readonly db: Database;
  private readonly meta: MetadataStore | undefined;

  constructor(path: string, meta?: MetadataStore) {
    this.db = openDatabase(path, MIGRATIONS);
    this.meta = meta;
  }

  close(): void {
    this.db.close();
  }

  exists(repo: string): boolean {
    return (
      this.db.prepare("SELECT 1 FROM repo_blobs WHERE repo = ? LIMIT 1").get(repo) !== undefined ||
      this.db.prepare("SELECT 1 FROM repo_manifests WHERE repo = ? LIMIT 1").get(repo) !== undefined
    );
  }

  hasBlob(repo: string, digest: string): boolean {
    return (
      this.db.prepare("SELECT 1 FROM repo_blobs WHERE repo = ? AND digest = ?").get(repo, digest) !==
      undefined
    );
  }

  linkBlob(repo: string, digest: string): void {
    immediate(this.db, () => {
      this.db.prepare("INSERT OR IGNORE INTO repo_blobs (repo, digest) VALUES (?, ?)").run(repo, digest);
    });
    this.meta?.transaction(() => this.meta?.addRef(registryNode(repo), blobNode(digest)));
  }

  /** False when the repository did not hold the blob. */
  unlinkBlob(repo: string, digest: string): boolean {
    const r = immediate(this.db, () =>
      this.db.prepare("DELETE FROM repo_blobs WHERE repo = ? AND digest = ?").run(repo, digest),
    );
    if (r.changes > 0 && !this.hasManifest(repo, digest)) this.dropRef(repo, digest);
    return r.changes > 0;
  }

  hasManifest(repo: string, digest: string): boolean {
    return (
      this.db.prepare("SELECT 1 FROM repo_manifests WHERE repo = ? AND digest = ?").get(repo, digest) !==
      undefined
    );
  }

  getManifest(repo: string, digest: string): RepoManifest | undefined {
    const row = this.db
      .prepare<ManifestRow>("SELECT * FROM repo_manifests WHERE repo = ? AND digest = ?")
      .get(repo, digest);
    return row && manifestOf(row);
  }

  putManifest(repo: string, m: RepoManifest, tag?: string): void {
    immediate(this.db, () => {
      this.db
        .prepare(
          `INSERT OR IGNORE INTO repo_manifests (repo, digest, media_type, size, artifact_type, subject, annotations, created)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          repo,
          m.digest,
          m.mediaType,
          m.size,
          m.artifactType ?? null,
          m.subject ?? null,
          m.annotations === undefined ? null : JSON.stringify(m.annotations),
          Date.now(),
        );
      if (tag !== undefined) {
        this.db
          .prepare(
            "INSERT INTO tags (repo, tag, digest) VALUES (?, ?, ?) ON CONFLICT(repo, tag) DO UPDATE SET digest = excluded.digest",
          )
          .run(repo, tag, m.digest);
      }
    });
    this.meta?.transaction(() => this.meta?.addRef(registryNode(repo), blobNode(m.digest)));
  }

  /** Removes a manifest and every tag pointing at it; false when unknown. */
  deleteManifest(repo: string, digest: string): boolean {
    const r = immediate(this.db, () => {
      this.db.prepare("DELETE FROM tags WHERE repo = ? AND digest = ?").run(repo, digest);
      return this.db.prepare("DELETE FROM repo_manifests WHERE repo = ? AND digest = ?").run(repo, digest);
    });
    if (r.changes > 0 && !this.hasBlob(repo, digest)) this.dropRef(repo, digest);
    return r.changes > 0;
  }

  resolveTag(repo: string, tag: string): string | undefined {
    return this.db
      .prepare<{ digest: string }>("SELECT digest FROM tags WHERE repo = ? AND tag = ?")
      .get(repo, tag)?.digest;
  }

  deleteTag(repo: string, tag: string): boolean {
    return (
      immediate(this.db, () => this.db.prepare("DELETE FROM tags WHERE repo = ? AND tag = ?").run(repo, tag))
        .changes > 0
    );
  }

  /** Tags in lexical order after `last`, at most `n`, and whether more follow. */
  tags(repo: string, opts: { n?: number; last?: string }): { tags: string[]; more: boolean } {
    const limit = opts.n ?? -1;
    const rows = this.db
      .prepare<{ tag: string }>("SELECT tag FROM tags WHERE repo = ? AND tag > ? ORDER BY tag LIMIT ?")
      .all(repo, opts.last ?? "", limit < 0 ? -1 : limit + 1)
      .map((r) => r.tag);
    if (limit >= 0 && rows.length > limit) return { tags: rows.slice(0, limit), more: true };
    return { tags: rows, more: false };
  }

  /** Manifests in `repo` whose subject is `digest`. */
  referrers(repo: string, digest: string): RepoManifest[] {
    return this.db
      .prepare<ManifestRow>("SELECT * FROM repo_manifests WHERE repo = ? AND subject = ? ORDER BY digest")
      .all(repo, digest)
      .map(manifestOf);
  }

  repositories(opts: { n?: number; last?: string }): { repos: string[]; more: boolean } {
    const limit = opts.n ?? -1;
    const rows = this.db
      .prepare<{ repo: string }>(
        `SELECT repo FROM (SELECT repo FROM repo_blobs UNION SELECT repo FROM repo_manifests)
         WHERE repo > ? ORDER BY repo LIMIT ?`,
      )
      .all(opts.last ?? "", limit < 0 ? -1 : limit + 1)
      .map((r) => r.repo);
    if (limit >= 0 && rows.length > limit) return { repos: rows.slice(0, limit), more: true };
    return { repos: rows, more: false };
  }

  /** Whether any repository still holds the digest, as a blob or a manifest. */
  referenced(digest: string): boolean {
    return (
      this.db.prepare("SELECT 1 FROM repo_blobs WHERE digest = ? LIMIT 1").get(digest) !== undefined ||
      this.db.prepare("SELECT 1 FROM repo_manifests WHERE digest = ? LIMIT 1").get(digest) !== undefined
    );
  }

  private dropRef(repo: string, digest: string): void {
    this.meta?.transaction(() => this.meta?.removeRef(registryNode(repo), blobNode(digest)));
  }
}

function manifestOf(r: ManifestRow): RepoManifest {
  const m: RepoManifest = { digest: r.digest, mediaType: r.media_type, size: r.size };
  if (r.artifact_type !== null) m.artifactType = r.artifact_type;
  if (r.subject !== null) m.subject = r.subject;
  if (r.annotations !== null) m.annotations = JSON.parse(r.annotations) as Record<string, string>;
  return m;
}
