/**
 * Image metadata in SQLite: what the content store's blobs mean.
 *
 *   images     name ("docker.io/library/busybox:latest") → target manifest or index
 *   manifests  a manifest (config + layers) or an index (child manifests), by digest
 *   configs    an image config blob and the diffIDs it lists
 *   layers     a layer blob (as transferred, usually compressed) ↔ its diffID
 *              (sha256 of the uncompressed tar) and both sizes
 *   refs       garbage-collection edges: `source` keeps `target` alive
 *
 * Nodes in `refs` are "kind:id" strings: `blob:<digest>`, `image:<name>`,
 * `snapshot:<snapshotter>/<key>`, `lease:<id>`, `container:<id>`. Sources that
 * are not blobs or snapshots are roots; everything reachable from a root is
 * live. putImage and putManifest maintain their own edges; callers add leases
 * (a pull in progress) and other owners (a container's snapshot) explicitly.
 *
 * Every method is one transaction; `transaction(fn)` groups several. All of it
 * is safe with several processes on one database (WAL + busy timeout +
 * IMMEDIATE transactions, see sqlite.ts).
 */
import { PierError } from "../../common/errors.ts";
import { parseDigest, type Digest } from "../digest.ts";
import {
  immediate,
  openDatabase,
  type Database,
  type Migration,
  type OpenOptions,
} from "../../common/sqlite.ts";

export interface Target {
  digest: Digest;
  mediaType: string;
  size: number;
}

export interface ImageRecord {
  name: string;
  /** The manifest (or index) the name points at. */
  target: Target;
  /** The config of the manifest used on this machine, when known. */
  configDigest?: Digest;
  labels: Record<string, string>;
  created: Date;
  updated: Date;
}

export interface ImageInput {
  name: string;
  target: Target;
  configDigest?: Digest;
  labels?: Record<string, string>;
}

export interface ManifestRecord {
  digest: Digest;
  mediaType: string;
  size: number;
  /** For an image manifest: its config and layers, in order. */
  configDigest?: Digest;
  layers: Digest[];
  /** For an index: its child manifests, in order. */
  manifests: Digest[];
}

export interface ConfigRecord {
  digest: Digest;
  size: number;
  diffIDs: Digest[];
}

export interface LayerRecord {
  /** The blob's digest (as stored and transferred). */
  digest: Digest;
  /** sha256 of the uncompressed tar. */
  diffID: Digest;
  mediaType: string;
  size: number;
  uncompressedSize?: number;
}

export const MIGRATIONS: readonly Migration[] = [
  `CREATE TABLE images (
     name TEXT PRIMARY KEY,
     target_digest TEXT NOT NULL,
     target_media_type TEXT NOT NULL,
     target_size INTEGER NOT NULL,
     config_digest TEXT,
     labels TEXT NOT NULL DEFAULT '{}',
     created INTEGER NOT NULL,
     updated INTEGER NOT NULL
   );
   CREATE INDEX images_target ON images(target_digest);
   CREATE TABLE manifests (
     digest TEXT PRIMARY KEY,
     media_type TEXT NOT NULL,
     size INTEGER NOT NULL,
     config_digest TEXT,
     created INTEGER NOT NULL
   );
   CREATE TABLE manifest_children (
     parent TEXT NOT NULL REFERENCES manifests(digest) ON DELETE CASCADE,
     idx INTEGER NOT NULL,
     kind TEXT NOT NULL CHECK (kind IN ('layer', 'manifest')),
     child TEXT NOT NULL,
     PRIMARY KEY (parent, kind, idx)
   );
   CREATE INDEX manifest_children_child ON manifest_children(child);
   CREATE TABLE configs (
     digest TEXT PRIMARY KEY,
     size INTEGER NOT NULL,
     diff_ids TEXT NOT NULL
   );
   CREATE TABLE layers (
     digest TEXT PRIMARY KEY,
     diff_id TEXT NOT NULL,
     media_type TEXT NOT NULL,
     size INTEGER NOT NULL,
     uncompressed_size INTEGER
   );
   CREATE INDEX layers_diff_id ON layers(diff_id);
   CREATE TABLE refs (
     source TEXT NOT NULL,
     target TEXT NOT NULL,
     PRIMARY KEY (source, target)
   ) WITHOUT ROWID;
   CREATE INDEX refs_target ON refs(target);`,
];

interface ImageRow {
  name: string;
  target_digest: string;
  target_media_type: string;
  target_size: number;
  config_digest: string | null;
  labels: string;
  created: number;
  updated: number;
}

interface ManifestRow {
  digest: string;
  media_type: string;
  size: number;
  config_digest: string | null;
}

interface LayerRow {
  digest: string;
  diff_id: string;
  media_type: string;
  size: number;
  uncompressed_size: number | null;
}

export const blobNode = (d: Digest) => `blob:${d}`;
export const imageNode = (name: string) => `image:${name}`;

const ROOT_KINDS_EXCLUDED = ["blob:", "snapshot:"];

export class MetadataStore {
  /** The raw handle, for tests and for stores that add their own tables. */
  readonly db: Database;

  private constructor(db: Database) {
    this.db = db;
  }

  static open(path: string, opts: OpenOptions = {}): MetadataStore {
    return new MetadataStore(openDatabase(path, MIGRATIONS, opts));
  }

  close(): void {
    this.db.close();
  }

  /** Runs `fn` as one IMMEDIATE transaction (nested calls join it). */
  transaction<T>(fn: () => T): T {
    return immediate(this.db, fn);
  }

  // ---- images ----------------------------------------------------------------

  /** Creates or moves `name` to a target; keeps `created` when it existed. */
  putImage(img: ImageInput): ImageRecord {
    if (!img.name) throw new PierError("InvalidArgument", "image name must not be empty");
    parseDigest(img.target.digest);
    if (img.configDigest !== undefined) parseDigest(img.configDigest);
    return this.transaction(() => {
      const now = Date.now();
      const old = this.db.prepare<ImageRow>("SELECT * FROM images WHERE name = ?").get(img.name);
      this.db
        .prepare(
          `INSERT INTO images (name, target_digest, target_media_type, target_size, config_digest, labels, created, updated)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT(name) DO UPDATE SET target_digest = excluded.target_digest,
             target_media_type = excluded.target_media_type, target_size = excluded.target_size,
             config_digest = excluded.config_digest, labels = excluded.labels, updated = excluded.updated`,
        )
        .run(
          img.name,
          img.target.digest,
          img.target.mediaType,
          img.target.size,
          img.configDigest ?? null,
          JSON.stringify(img.labels ?? {}),
          old?.created ?? now,
          now,
        );
      this.removeRefs(imageNode(img.name));
      this.addRef(imageNode(img.name), blobNode(img.target.digest));
      return this.getImage(img.name);
    });
  }

  getImage(name: string): ImageRecord {
    const row = this.db.prepare<ImageRow>("SELECT * FROM images WHERE name = ?").get(name);
    if (!row) throw new PierError("NotFound", `image ${name} not found`);
    return imageOf(row);
  }

  listImages(): ImageRecord[] {
    return this.db.prepare<ImageRow>("SELECT * FROM images ORDER BY name").all().map(imageOf);
  }

  /** The names pointing at a manifest or index. */
  imagesByTarget(digest: Digest): ImageRecord[] {
    return this.db
      .prepare<ImageRow>("SELECT * FROM images WHERE target_digest = ? ORDER BY name")
      .all(digest)
      .map(imageOf);
  }

  deleteImage(name: string): void {
    this.transaction(() => {
      const r = this.db.prepare("DELETE FROM images WHERE name = ?").run(name);
      if (r.changes === 0) throw new PierError("NotFound", `image ${name} not found`);
      this.removeRefs(imageNode(name));
    });
  }

  // ---- manifests, configs, layers -------------------------------------------

  /** Records a manifest or index (immutable: a second put of one digest is a no-op). */
  putManifest(m: ManifestRecord): void {
    parseDigest(m.digest);
    for (const d of [...m.layers, ...m.manifests]) parseDigest(d);
    this.transaction(() => {
      const r = this.db
        .prepare(
          "INSERT OR IGNORE INTO manifests (digest, media_type, size, config_digest, created) VALUES (?, ?, ?, ?, ?)",
        )
        .run(m.digest, m.mediaType, m.size, m.configDigest ?? null, Date.now());
      if (r.changes === 0) return;
      const child = this.db.prepare(
        "INSERT INTO manifest_children (parent, idx, kind, child) VALUES (?, ?, ?, ?)",
      );
      m.layers.forEach((d, i) => child.run(m.digest, i, "layer", d));
      m.manifests.forEach((d, i) => child.run(m.digest, i, "manifest", d));
      const self = blobNode(m.digest);
      if (m.configDigest !== undefined) this.addRef(self, blobNode(m.configDigest));
      for (const d of [...m.layers, ...m.manifests]) this.addRef(self, blobNode(d));
    });
  }

  getManifest(digest: Digest): ManifestRecord {
    const row = this.db.prepare<ManifestRow>("SELECT * FROM manifests WHERE digest = ?").get(digest);
    if (!row) throw new PierError("NotFound", `manifest ${digest} not found`);
    const children = this.db
      .prepare<{ kind: string; child: string }>(
        "SELECT kind, child FROM manifest_children WHERE parent = ? ORDER BY kind, idx",
      )
      .all(digest);
    const m: ManifestRecord = {
      digest: row.digest,
      mediaType: row.media_type,
      size: row.size,
      layers: children.filter((c) => c.kind === "layer").map((c) => c.child),
      manifests: children.filter((c) => c.kind === "manifest").map((c) => c.child),
    };
    if (row.config_digest !== null) m.configDigest = row.config_digest;
    return m;
  }

  putConfig(c: ConfigRecord): void {
    parseDigest(c.digest);
    this.transaction(() => {
      this.db
        .prepare("INSERT OR IGNORE INTO configs (digest, size, diff_ids) VALUES (?, ?, ?)")
        .run(c.digest, c.size, JSON.stringify(c.diffIDs));
    });
  }

  getConfig(digest: Digest): ConfigRecord {
    const row = this.db
      .prepare<{ digest: string; size: number; diff_ids: string }>("SELECT * FROM configs WHERE digest = ?")
      .get(digest);
    if (!row) throw new PierError("NotFound", `config ${digest} not found`);
    return { digest: row.digest, size: row.size, diffIDs: JSON.parse(row.diff_ids) as Digest[] };
  }

  /** Records a layer blob; a later put may add the uncompressed size. */
  putLayer(l: LayerRecord): void {
    parseDigest(l.digest);
    parseDigest(l.diffID);
    this.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO layers (digest, diff_id, media_type, size, uncompressed_size) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT(digest) DO UPDATE SET uncompressed_size = COALESCE(excluded.uncompressed_size, uncompressed_size)`,
        )
        .run(l.digest, l.diffID, l.mediaType, l.size, l.uncompressedSize ?? null);
    });
  }

  getLayer(digest: Digest): LayerRecord {
    const row = this.db.prepare<LayerRow>("SELECT * FROM layers WHERE digest = ?").get(digest);
    if (!row) throw new PierError("NotFound", `layer ${digest} not found`);
    return layerOf(row);
  }

  /** Every blob known to hold the tar with this diffID (gzip, zstd, plain…). */
  layersByDiffID(diffID: Digest): LayerRecord[] {
    return this.db
      .prepare<LayerRow>("SELECT * FROM layers WHERE diff_id = ? ORDER BY digest")
      .all(diffID)
      .map(layerOf);
  }

  // ---- references and garbage collection -------------------------------------

  addRef(source: string, target: string): void {
    this.db.prepare("INSERT OR IGNORE INTO refs (source, target) VALUES (?, ?)").run(source, target);
  }

  removeRef(source: string, target: string): void {
    this.db.prepare("DELETE FROM refs WHERE source = ? AND target = ?").run(source, target);
  }

  removeRefs(source: string): void {
    this.db.prepare("DELETE FROM refs WHERE source = ?").run(source);
  }

  refsFrom(source: string): string[] {
    return this.db
      .prepare<{ target: string }>("SELECT target FROM refs WHERE source = ? ORDER BY target")
      .all(source)
      .map((r) => r.target);
  }

  /** Everything reachable from a root (any source that is not a blob or snapshot). */
  liveNodes(): Set<string> {
    const rows = this.db
      .prepare<{ node: string }>(
        `WITH RECURSIVE live(node) AS (
           SELECT target FROM refs WHERE ${ROOT_KINDS_EXCLUDED.map(() => "source NOT LIKE ?").join(" AND ")}
           UNION
           SELECT r.target FROM refs r JOIN live ON r.source = live.node
         ) SELECT node FROM live`,
      )
      .all(...ROOT_KINDS_EXCLUDED.map((k) => `${k}%`));
    return new Set(rows.map((r) => r.node));
  }

  /** Drops what metadata says about a blob that is being deleted (rows and its outgoing edges). */
  forgetBlob(digest: Digest): void {
    this.transaction(() => {
      this.db.prepare("DELETE FROM manifests WHERE digest = ?").run(digest);
      this.db.prepare("DELETE FROM configs WHERE digest = ?").run(digest);
      this.db.prepare("DELETE FROM layers WHERE digest = ?").run(digest);
      this.removeRefs(blobNode(digest));
    });
  }
}

function imageOf(r: ImageRow): ImageRecord {
  const img: ImageRecord = {
    name: r.name,
    target: { digest: r.target_digest, mediaType: r.target_media_type, size: r.target_size },
    labels: JSON.parse(r.labels) as Record<string, string>,
    created: new Date(r.created),
    updated: new Date(r.updated),
  };
  if (r.config_digest !== null) img.configDigest = r.config_digest;
  return img;
}

function layerOf(r: LayerRow): LayerRecord {
  const l: LayerRecord = { digest: r.digest, diffID: r.diff_id, mediaType: r.media_type, size: r.size };
  if (r.uncompressed_size !== null) l.uncompressedSize = r.uncompressed_size;
  return l;
}
