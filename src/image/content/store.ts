/**
 * The content store: immutable blobs named by their digest.
 *
 *   <root>/blobs/<alg>/<hex>          committed blobs, read-only files
 *   <root>/ingest/<sha256(ref)>/      one in-progress write ("ingest"), named by a ref:
 *        meta  {ref, total, expected, startedAt}
 *        data  the bytes so far
 *        lock  "pid starttime" of the writer holding it
 *
 * A blob appears under its real name only by rename(2) from its ingest after
 * the bytes were fsync'ed and their digest (and size, if declared) verified;
 * so a crash or kill at any moment leaves either no blob or the whole blob.
 * (Ingests live in their own directory, on the same file system as blobs/, so
 * that an interrupted write can be found again by its ref and resumed: the
 * writer re-hashes what is there and reports `offset` to continue from.)
 * Ingests nobody holds can be listed, aborted, or swept by `gcIngests`.
 *
 * Several processes may use one store: writers of the same ref exclude each
 * other through the lock file (a lock whose process is gone is stale and
 * taken over); committing the same blob twice is harmless.
 */
import { createHash } from "node:crypto";
import { constants as C } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { PierError, wrap } from "../../common/errors.ts";
import { Digester, parseDigest, type Algorithm, type Digest } from "../digest.ts";

export interface Descriptor {
  digest: Digest;
  size: number;
}

export interface BlobInfo extends Descriptor {
  createdAt: Date;
}

export interface IngestStatus {
  ref: string;
  /** Bytes written so far: where a resumed write continues. */
  offset: number;
  total?: number;
  expected?: Digest;
  startedAt: Date;
  updatedAt: Date;
  /** Whether a live process currently holds the ingest. */
  locked: boolean;
}

export interface WriterOptions {
  /** The digest the content must have; commit refuses anything else. */
  expected?: Digest;
  /** The exact size the content must have; writes past it are refused. */
  total?: number;
}

export interface ContentStoreOptions {
  /** No blob may be larger than this (default 64 GiB). */
  maxBlobSize?: number;
}

const DEFAULT_MAX_BLOB = 64 * 1024 ** 3;

interface IngestMeta {
  ref: string;
  total?: number;
  expected?: Digest;
  startedAt: number;
}

export class ContentStore {
  readonly root: string;
  readonly maxBlobSize: number;

  private constructor(root: string, opts: ContentStoreOptions) {
    this.root = root;
    this.maxBlobSize = opts.maxBlobSize ?? DEFAULT_MAX_BLOB;
  }

  static async open(root: string, opts: ContentStoreOptions = {}): Promise<ContentStore> {
    const s = new ContentStore(root, opts);
    await mkdir(join(root, "blobs", "sha256"), { recursive: true });
    await mkdir(join(root, "ingest"), { recursive: true });
    return s;
  }

  /** Where the blob lives (whether or not it exists). */
  blobPath(digest: Digest): string {
    const { algorithm, hex } = parseDigest(digest);
    return join(this.root, "blobs", algorithm, hex);
  }

  async info(digest: Digest): Promise<BlobInfo> {
    const p = this.blobPath(digest);
    try {
      const st = await stat(p);
      return { digest, size: st.size, createdAt: st.mtime };
    } catch (err) {
      throw wrap(err, `blob ${digest}`);
    }
  }

  async has(digest: Digest): Promise<boolean> {
    return this.info(digest).then(
      () => true,
      (err: unknown) => {
        if (err instanceof PierError && err.kind === "NotFound") return false;
        throw err;
      },
    );
  }

  /** A stream of the blob's bytes (`start`/`end` inclusive, as fs.createReadStream). */
  async reader(digest: Digest, range: { start?: number; end?: number } = {}): Promise<Readable> {
    const p = this.blobPath(digest);
    let fh: FileHandle;
    try {
      fh = await open(p, C.O_RDONLY | C.O_NOFOLLOW);
    } catch (err) {
      throw wrap(err, `blob ${digest}`);
    }
    return fh.createReadStream({ ...range, highWaterMark: 1 << 20 });
  }

  /** The whole blob, verified against its digest; refused above `maxSize`. */
  async read(digest: Digest, opts: { maxSize?: number } = {}): Promise<Buffer> {
    const info = await this.info(digest);
    if (opts.maxSize !== undefined && info.size > opts.maxSize) {
      throw new PierError("ResourceExhausted", `blob ${digest} is ${info.size} bytes, limit ${opts.maxSize}`);
    }
    const data = await readFile(this.blobPath(digest));
    const { algorithm } = parseDigest(digest);
    if (`${algorithm}:${createHash(algorithm).update(data).digest("hex")}` !== digest) {
      throw new PierError("Internal", `blob ${digest} is corrupt on disk`, {
        hint: "delete it and fetch it again",
      });
    }
    return data;
  }

  async delete(digest: Digest): Promise<void> {
    try {
      await unlink(this.blobPath(digest));
    } catch (err) {
      throw wrap(err, `delete blob ${digest}`);
    }
  }

  async list(): Promise<BlobInfo[]> {
    const out: BlobInfo[] = [];
    for (const alg of ["sha256", "sha512"] as const) {
      let names: string[];
      try {
        names = await readdir(join(this.root, "blobs", alg));
      } catch {
        continue;
      }
      for (const hex of names.sort()) {
        const digest = `${alg}:${hex}`;
        try {
          parseDigest(digest);
          out.push(await this.info(digest));
        } catch {
          // not a blob (or deleted meanwhile)
        }
      }
    }
    return out;
  }

  /**
   * Opens the ingest named `ref`, creating it or resuming it: a resumed writer
   * starts at `offset` (the bytes already there, re-hashed). If `expected` or
   * `total` differ from the earlier attempt's, the ingest starts over.
   * Unavailable while another live writer holds the ref.
   */
  async writer(ref: string, opts: WriterOptions = {}): Promise<IngestWriter> {
    if (!ref) throw new PierError("InvalidArgument", "ingest ref must not be empty");
    const algorithm: Algorithm = opts.expected ? parseDigest(opts.expected).algorithm : "sha256";
    if (opts.total !== undefined && (!Number.isSafeInteger(opts.total) || opts.total < 0)) {
      throw new PierError("InvalidArgument", `ingest ${ref}: bad size ${opts.total}`);
    }
    if (opts.total !== undefined && opts.total > this.maxBlobSize) {
      throw new PierError(
        "ResourceExhausted",
        `ingest ${ref}: ${opts.total} bytes exceeds ${this.maxBlobSize}`,
      );
    }
    const dir = this.ingestDir(ref);
    const lock = await acquireLock(dir, ref);
    try {
      let meta = await readMeta(dir);
      const fresh = !meta || meta.ref !== ref || meta.expected !== opts.expected || meta.total !== opts.total;
      if (fresh) {
        meta = { ref, startedAt: Date.now(), ...opts };
        await writeAtomic(join(dir, "meta"), JSON.stringify(meta));
      }
      const fh = await open(join(dir, "data"), C.O_RDWR | C.O_CREAT | C.O_NOFOLLOW, 0o600);
      const digester = new Digester(algorithm);
      if (fresh) {
        await fh.truncate(0);
      } else {
        for await (const chunk of fh.createReadStream({
          start: 0,
          autoClose: false,
        }) as AsyncIterable<Buffer>)
          digester.update(chunk);
      }
      return new IngestWriter(this, ref, dir, fh, digester, opts, lock);
    } catch (err) {
      await lock.release();
      throw wrap(err, `open ingest ${ref}`);
    }
  }

  /** Writes a whole stream as one blob (resuming `ref` if it was interrupted; the source must then skip `offset`). */
  async ingest(
    ref: string,
    source: AsyncIterable<Buffer> | Iterable<Buffer> | ((offset: number) => AsyncIterable<Buffer>),
    opts: WriterOptions = {},
  ): Promise<Descriptor> {
    const w = await this.writer(ref, opts);
    try {
      const it = typeof source === "function" ? source(w.offset) : source;
      if (typeof source !== "function" && w.offset > 0) await w.reset();
      for await (const chunk of it) await w.write(chunk);
    } catch (err) {
      if (err instanceof PierError && (err.kind === "ResourceExhausted" || err.kind === "InvalidArgument"))
        await w.abort();
      else await w.close();
      throw err;
    }
    return w.commit();
  }

  /** Stores bytes held in memory (a manifest, a config). */
  async put(data: Buffer, opts: { expected?: Digest } = {}): Promise<Descriptor> {
    const ref = `put-${process.pid}-${createHash("sha256").update(data).digest("hex").slice(0, 16)}-${Date.now()}`;
    return this.ingest(ref, [data], { ...opts, total: data.length });
  }

  async status(ref: string): Promise<IngestStatus> {
    const s = await this.statusOf(this.ingestDir(ref));
    if (!s || s.ref !== ref) throw new PierError("NotFound", `ingest ${ref} not found`);
    return s;
  }

  async listIngests(): Promise<IngestStatus[]> {
    const out: IngestStatus[] = [];
    for (const name of (await readdir(join(this.root, "ingest"))).sort()) {
      if (name.startsWith(".")) continue;
      const s = await this.statusOf(join(this.root, "ingest", name));
      if (s) out.push(s);
    }
    return out;
  }

  /** Removes an ingest nobody holds. */
  async abort(ref: string): Promise<void> {
    const dir = this.ingestDir(ref);
    const lock = await acquireLock(dir, ref, { mustExist: true });
    await removeIngestDir(dir, lock);
  }

  /**
   * Removes every ingest no live process holds whose last write is older than
   * `olderThanMs` (0: all of them). Returns the refs removed.
   */
  async gcIngests(opts: { olderThanMs?: number } = {}): Promise<string[]> {
    const removed: string[] = [];
    const cutoff = Date.now() - (opts.olderThanMs ?? 0);
    for (const name of await readdir(join(this.root, "ingest"))) {
      const dir = join(this.root, "ingest", name);
      if (name.startsWith(".")) {
        await rm(dir, { recursive: true, force: true }); // a removal interrupted earlier
        continue;
      }
      const s = await this.statusOf(dir);
      if (s && (s.locked || s.updatedAt.getTime() > cutoff)) continue;
      let lock: Lock;
      try {
        lock = await acquireLock(dir, s?.ref ?? name, { mustExist: true });
      } catch {
        continue; // taken meanwhile
      }
      await removeIngestDir(dir, lock);
      removed.push(s?.ref ?? name);
    }
    return removed;
  }

  /** @internal */
  ingestDir(ref: string): string {
    return join(this.root, "ingest", createHash("sha256").update(ref).digest("hex"));
  }

  private async statusOf(dir: string): Promise<IngestStatus | undefined> {
    const meta = await readMeta(dir);
    if (!meta) return undefined;
    let size = 0;
    let mtime = new Date(meta.startedAt);
    try {
      const st = await stat(join(dir, "data"));
      size = st.size;
      mtime = st.mtime;
    } catch {
      // not written yet
    }
    const s: IngestStatus = {
      ref: meta.ref,
      offset: size,
      startedAt: new Date(meta.startedAt),
      updatedAt: mtime,
      locked: await lockHeld(dir),
    };
    if (meta.total !== undefined) s.total = meta.total;
    if (meta.expected !== undefined) s.expected = meta.expected;
    return s;
  }
}

/** One in-progress write. Call commit, close (keep for resuming) or abort exactly once. */
export class IngestWriter {
  readonly ref: string;
  private readonly store: ContentStore;
  private readonly dir: string;
  private readonly fh: FileHandle;
  private digester: Digester;
  private readonly opts: WriterOptions;
  private readonly lock: Lock;
  private finished = false;

  /** @internal */
  constructor(
    store: ContentStore,
    ref: string,
    dir: string,
    fh: FileHandle,
    digester: Digester,
    opts: WriterOptions,
    lock: Lock,
  ) {
    this.store = store;
    this.ref = ref;
    this.dir = dir;
    this.fh = fh;
    this.digester = digester;
    this.opts = opts;
    this.lock = lock;
  }

  /** Bytes written so far (including those of earlier, interrupted attempts). */
  get offset(): number {
    return this.digester.size;
  }

  async write(chunk: Buffer): Promise<void> {
    this.check();
    const end = this.offset + chunk.length;
    if (this.opts.total !== undefined && end > this.opts.total) {
      throw new PierError(
        "InvalidArgument",
        `ingest ${this.ref}: more than the declared ${this.opts.total} bytes`,
      );
    }
    if (end > this.store.maxBlobSize) {
      throw new PierError(
        "ResourceExhausted",
        `ingest ${this.ref}: blob exceeds ${this.store.maxBlobSize} bytes`,
      );
    }
    let done = 0;
    while (done < chunk.length) {
      const { bytesWritten } = await this.fh.write(chunk, done, chunk.length - done, this.offset + done);
      done += bytesWritten;
    }
    this.digester.update(chunk);
  }

  /** Starts over at offset 0. */
  async reset(): Promise<void> {
    this.check();
    await this.fh.truncate(0);
    this.digester = new Digester(this.digester.algorithm);
  }

  /**
   * Verifies size and digest, makes the bytes durable, and renames them into
   * place. Content that does not match is refused (InvalidArgument) and the
   * ingest removed. Committing content already in the store succeeds.
   */
  async commit(): Promise<Descriptor> {
    this.check();
    this.finished = true;
    const size = this.offset;
    const digest = this.digester.digest();
    try {
      if (this.opts.total !== undefined && size !== this.opts.total) {
        throw new PierError(
          "InvalidArgument",
          `ingest ${this.ref}: got ${size} bytes, expected ${this.opts.total}`,
        );
      }
      if (this.opts.expected !== undefined && digest !== this.opts.expected) {
        throw new PierError(
          "InvalidArgument",
          `ingest ${this.ref}: content has digest ${digest}, expected ${this.opts.expected}`,
        );
      }
      await this.fh.datasync(); // the bytes; the rename and the directory fsync below publish them
      await this.fh.chmod(0o444);
      await this.fh.close();
      const target = this.store.blobPath(digest);
      const blobDir = join(target, "..");
      await mkdir(blobDir, { recursive: true });
      await rename(join(this.dir, "data"), target);
      await fsyncDir(blobDir);
      await removeIngestDir(this.dir, this.lock);
      return { digest, size };
    } catch (err) {
      await this.fh.close().catch(() => undefined);
      await removeIngestDir(this.dir, this.lock).catch(() => undefined);
      throw wrap(err, `commit ${this.ref}`);
    }
  }

  /** Keeps the partial data for a later writer of the same ref and releases it. */
  async close(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    await this.fh.sync().catch(() => undefined);
    await this.fh.close();
    await this.lock.release();
  }

  async abort(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    await this.fh.close().catch(() => undefined);
    await removeIngestDir(this.dir, this.lock);
  }

  private check(): void {
    if (this.finished) throw new PierError("FailedPrecondition", `ingest ${this.ref} already finished`);
  }
}

// ---- locks -----------------------------------------------------------------

interface Lock {
  release(): Promise<void>;
}

async function procStart(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // Field 22 (starttime), counted after the ")" that ends the command name.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

async function lockHeld(dir: string): Promise<boolean> {
  let owner: string;
  try {
    owner = await readFile(join(dir, "lock"), "utf8");
  } catch {
    return false;
  }
  const [pid, start] = owner.split(" ");
  const live = pid ? await procStart(Number(pid)) : undefined;
  return live !== undefined && live === start;
}

async function acquireLock(dir: string, ref: string, opts: { mustExist?: boolean } = {}): Promise<Lock> {
  const me = `${process.pid} ${await procStart(process.pid)}`;
  const path = join(dir, "lock");
  for (let attempt = 0; attempt < 10; attempt++) {
    if (!opts.mustExist) await mkdir(dir, { recursive: true });
    try {
      const fh = await open(path, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o600);
      await fh.writeFile(me);
      await fh.close();
      return { release: () => unlink(path).catch(() => undefined) };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") {
        if (opts.mustExist) throw new PierError("NotFound", `ingest ${ref} not found`);
        continue; // removed under us; make it again
      }
      if (code !== "EEXIST") throw wrap(err, `lock ingest ${ref}`);
    }
    if (await lockHeld(dir)) {
      throw new PierError("Unavailable", `ingest ${ref} is locked by another writer`, {
        hint: "wait for it to finish, or abort the ingest",
      });
    }
    // Stale: its process is gone. Whoever unlinks it first retries O_EXCL first.
    await unlink(path).catch(() => undefined);
  }
  throw new PierError("Unavailable", `ingest ${ref}: could not take its lock`);
}

async function removeIngestDir(dir: string, lock: Lock): Promise<void> {
  // Rename first so that a half-removed ingest is never mistaken for a live one.
  const trash = join(dir, "..", `.rm-${process.pid}-${Math.random().toString(36).slice(2)}`);
  try {
    await rename(dir, trash);
  } catch (err) {
    await lock.release();
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw wrap(err, "remove ingest");
  }
  await rm(trash, { recursive: true, force: true });
}

async function readMeta(dir: string): Promise<IngestMeta | undefined> {
  try {
    const m = JSON.parse(await readFile(join(dir, "meta"), "utf8")) as IngestMeta;
    return typeof m.ref === "string" ? m : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Replaces `path` by rename, so readers see the old or the new content. Not
 * fsync'ed: the ingest meta only serves a resume, and one lost in a crash makes
 * the next writer start the ingest over, which is always correct.
 */
async function writeAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, C.O_WRONLY | C.O_CREAT | C.O_TRUNC | C.O_NOFOLLOW, 0o600);
  try {
    await fh.writeFile(data);
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, C.O_RDONLY | C.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
