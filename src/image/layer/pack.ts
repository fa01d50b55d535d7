/**
 * The reverse of unpack: a directory becomes a layer tar.
 *
 * With whiteouts "overlay" the directory is an overlayfs upper dir (what a
 * container or a build step changed): a 0/0 character device becomes the OCI
 * whiteout `.wh.NAME`, and a directory with trusted.overlay.opaque=y is
 * followed by `.wh..wh..opq`. Upper dirs that use redirect_dir or metacopy are
 * refused by name (pier's overlay mounts never turn those on). With "plain"
 * the tree is archived as it is (an import of a root file system).
 *
 * The output is deterministic: entries in byte order of their names, depth
 * first, a directory before its contents; hard links preserved (later names
 * link to the first); no user or group names; times in whole seconds, clamped
 * to `sourceDateEpoch` when given (as SOURCE_DATE_EPOCH does for reproducible
 * builds). xattrs are kept except overlayfs-internal ones (trusted.overlay.*).
 * Sockets cannot be archived and are skipped.
 */
import { randomUUID } from "node:crypto";
import { constants as C, type BigIntStats } from "node:fs";
import { lstat, open, readdir, readFile, readlink } from "node:fs/promises";
import { PierError, wrap } from "../../common/errors.ts";
import { Fsops } from "../../snapshot/fsops.ts";
import type { ContentStore } from "../content/store.ts";
import { Digester, type Digest } from "../digest.ts";
import { compress, MEDIA_TYPES, type Compression } from "./compression.ts";
import { encodeHeader, END_OF_ARCHIVE, padding, type EntryType, type HeaderInput } from "./tar.ts";

export interface PackOptions {
  /** "overlay" (default): translate overlayfs whiteouts and opaque dirs; "plain": archive as is. */
  whiteouts?: "overlay" | "plain";
  /** Clamp every mtime to at most this many seconds since the epoch. */
  sourceDateEpoch?: number;
}

export interface LayerOptions extends PackOptions {
  /** Archive the changes from this tree to `dir` (packDiff) instead of `dir` itself. */
  lower?: string;
  /** Default "gzip". */
  compression?: Compression;
  /** Compression level (gzip 1–9, zstd 1–19). */
  level?: number;
}

export interface LayerDescriptor {
  mediaType: string;
  /** Digest of the blob (compressed). */
  digest: Digest;
  size: number;
  /** Digest of the uncompressed tar. */
  diffID: Digest;
  uncompressedSize: number;
}

const OPAQUE_XATTR = "trusted.overlay.opaque";
const REFUSED_XATTRS = ["trusted.overlay.redirect", "trusted.overlay.metacopy"];

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** The uncompressed tar of `dir` (an overlay upper dir, or a whole tree with whiteouts "plain"). */
export function packLayer(dir: string, opts: PackOptions = {}): AsyncGenerator<Buffer> {
  return new Packer(dir, undefined, (opts.whiteouts ?? "overlay") === "overlay", opts.sourceDateEpoch).run();
}

/**
 * The changes from `lower` to `upper` (two full trees, e.g. a plain-copy
 * snapshot and its parent) as a layer tar: what is new or different in
 * `upper`, a whiteout for what is gone, and the directories on the way to
 * each change. Entries count as unchanged when type, mode, owner, mtime (to
 * the nanosecond; content is compared when the times have no fraction), size,
 * link target, device and xattrs are all equal (directories: all but size).
 */
export function packDiff(
  lower: string,
  upper: string,
  opts: Omit<PackOptions, "whiteouts"> = {},
): AsyncGenerator<Buffer> {
  return new Packer(upper, lower, false, opts.sourceDateEpoch).run();
}

class Packer {
  private readonly links = new Map<string, string>();
  /** Headers of unchanged directories, written only if something beneath them is. */
  private readonly pending: Buffer[] = [];
  private upperOps: Fsops | undefined;
  private lowerOps: Fsops | undefined;

  constructor(
    private readonly upper: string,
    private readonly lower: string | undefined,
    private readonly overlay: boolean,
    private readonly epoch: number | undefined,
  ) {}

  async *run(): AsyncGenerator<Buffer> {
    try {
      this.upperOps = Fsops.open({ root: this.upper });
      if (this.lower !== undefined) this.lowerOps = Fsops.open({ root: this.lower });
      yield* this.walk("", this.lower !== undefined);
      yield END_OF_ARCHIVE;
    } finally {
      await this.upperOps?.close();
      await this.lowerOps?.close();
    }
  }

  private clamp(s: number): number {
    return this.epoch === undefined ? s : Math.min(s, this.epoch);
  }

  private *flush(): Generator<Buffer> {
    yield* this.pending.splice(0);
  }

  private async *walk(rel: string, hasLower: boolean): AsyncGenerator<Buffer> {
    const at = (root: string, name: string) => (rel ? `${root}/${rel}/${name}` : `${root}/${name}`);
    const upperNames = await readdir(rel ? `${this.upper}/${rel}` : this.upper);
    const lowerNames = hasLower ? await readdir(rel ? `${this.lower}/${rel}` : this.lower!) : [];
    const inUpper = new Set(upperNames);
    const inLower = new Set(lowerNames);
    const names = [...new Set([...upperNames, ...lowerNames])].sort(byteOrder);
    const parentMtime = async () =>
      this.clamp(
        Number(
          (await lstat(rel ? `${this.upper}/${rel}` : this.upper, { bigint: true })).mtimeNs / 1_000_000_000n,
        ),
      );
    // Ask for every child's xattrs at once; the helper answers in order.
    const xattrs = new Map(upperNames.map((n) => [n, this.upperOps!.getxattrs(rel ? `${rel}/${n}` : n)]));
    for (const x of xattrs.values()) x.catch(() => undefined); // awaited below; no unhandled rejections

    for (const name of names) {
      const childRel = rel ? `${rel}/${name}` : name;
      const whiteout = rel ? `${rel}/.wh.${name}` : `.wh.${name}`;
      if (!inUpper.has(name)) {
        yield* this.flush();
        yield encodeHeader({ name: whiteout, type: "file", mode: 0, mtime: await parentMtime() });
        continue;
      }
      const full = at(this.upper, name);
      const st = await lstat(full, { bigint: true });
      const attrs = await xattrs.get(name)!;
      if (this.overlay) {
        for (const k of REFUSED_XATTRS) {
          if (attrs.has(k)) {
            throw new PierError(
              "NotImplemented",
              `${childRel}: overlayfs ${k.slice(16)} is not supported in diffs`,
            );
          }
        }
      }
      const mtime = this.clamp(Number(st.mtimeNs / 1_000_000_000n));
      const kept = new Map([...attrs].filter(([k]) => !k.startsWith("trusted.overlay.")));
      if (this.overlay && st.isCharacterDevice() && st.rdev === 0n) {
        yield* this.flush();
        yield encodeHeader({ name: whiteout, type: "file", mode: 0, mtime });
        continue;
      }
      if (st.isSocket()) continue;
      const lowerSt = inLower.has(name) ? await lstat(at(this.lower!, name), { bigint: true }) : undefined;
      const changed = !lowerSt || (await this.differs(childRel, st, kept, lowerSt));
      const base: HeaderInput = {
        name: childRel,
        type: "file",
        mode: Number(st.mode) & 0o7777,
        uid: Number(st.uid),
        gid: Number(st.gid),
        mtime,
        xattrs: kept,
      };

      if (st.isDirectory()) {
        const header = [encodeHeader({ ...base, name: `${childRel}/`, type: "dir" })];
        if (this.overlay && attrs.get(OPAQUE_XATTR)?.toString() === "y") {
          header.push(encodeHeader({ name: `${childRel}/.wh..wh..opq`, type: "file", mode: 0, mtime }));
        }
        const lowerIsDir = lowerSt?.isDirectory() ?? false;
        if (changed) {
          yield* this.flush();
          yield* header;
          yield* this.walk(childRel, lowerIsDir);
        } else {
          const depth = this.pending.length;
          this.pending.push(...header);
          yield* this.walk(childRel, lowerIsDir);
          this.pending.splice(depth); // nothing beneath changed: drop the header again
        }
        continue;
      }
      if (!changed) continue;
      yield* this.flush();
      yield* this.entry(full, childRel, st, base);
    }
  }

  private async *entry(
    full: string,
    rel: string,
    st: BigIntStats,
    base: HeaderInput,
  ): AsyncGenerator<Buffer> {
    if (st.nlink > 1n) {
      const key = `${st.dev}:${st.ino}`;
      const first = this.links.get(key);
      if (first !== undefined) {
        yield encodeHeader({ ...base, type: "hardlink", linkname: first, xattrs: new Map() });
        return;
      }
      this.links.set(key, rel);
    }
    if (st.isFile()) {
      const size = Number(st.size);
      yield encodeHeader({ ...base, size });
      yield* fileBody(full, size, rel);
      yield padding(size);
    } else if (st.isSymbolicLink()) {
      yield encodeHeader({ ...base, type: "symlink", linkname: await readlink(full) });
    } else {
      const type: EntryType = st.isCharacterDevice() ? "char" : st.isBlockDevice() ? "block" : "fifo";
      const { major, minor } = splitDev(st);
      yield encodeHeader({ ...base, type, devmajor: major, devminor: minor });
    }
  }

  private async differs(
    rel: string,
    st: BigIntStats,
    attrs: Map<string, Buffer>,
    lo: BigIntStats,
  ): Promise<boolean> {
    if (st.mode !== lo.mode || st.uid !== lo.uid || st.gid !== lo.gid || st.mtimeNs !== lo.mtimeNs)
      return true;
    // A directory's size says nothing about its content (which is compared entry by entry).
    if (!st.isDirectory() && (st.size !== lo.size || st.rdev !== lo.rdev)) return true;
    const loAttrs = new Map(
      [...(await this.lowerOps!.getxattrs(rel))].filter(([k]) => !k.startsWith("trusted.overlay.")),
    );
    if (loAttrs.size !== attrs.size) return true;
    for (const [k, v] of attrs) if (!loAttrs.get(k)?.equals(v)) return true;
    if (st.isSymbolicLink())
      return (await readlink(`${this.upper}/${rel}`)) !== (await readlink(`${this.lower}/${rel}`));
    if (st.isFile() && st.mtimeNs % 1_000_000_000n === 0n) {
      return !(await sameContent(`${this.upper}/${rel}`, `${this.lower}/${rel}`));
    }
    return false;
  }
}

async function sameContent(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([readFile(a), readFile(b)]);
  return x.equals(y);
}

async function* fileBody(full: string, size: number, rel: string): AsyncGenerator<Buffer> {
  const fh = await open(full, C.O_RDONLY | C.O_NOFOLLOW);
  try {
    let got = 0;
    if (size > 0) {
      for await (const c of fh.createReadStream({
        start: 0,
        end: size - 1,
        autoClose: false,
      }) as AsyncIterable<Buffer>) {
        got += c.length;
        yield c;
      }
    }
    if (got !== size) throw new PierError("FailedPrecondition", `${rel} changed while it was archived`);
  } finally {
    await fh.close();
  }
}

function splitDev(st: BigIntStats): { major: number; minor: number } {
  const r = st.rdev;
  return {
    major: Number(((r >> 8n) & 0xfffn) | ((r >> 32n) & ~0xfffn)),
    minor: Number((r & 0xffn) | ((r >> 12n) & ~0xffn)),
  };
}

/**
 * The compressed layer as a stream, plus its descriptor once the stream has
 * been read to the end.
 */
export function layerStream(
  dir: string,
  opts: LayerOptions = {},
): { stream: AsyncIterable<Buffer>; descriptor: () => LayerDescriptor } {
  const compression = opts.compression ?? "gzip";
  const diff = new Digester();
  const blob = new Digester();
  let finished = false;
  const tar = (async function* () {
    const src = opts.lower !== undefined ? packDiff(opts.lower, dir, opts) : packLayer(dir, opts);
    for await (const c of src) {
      diff.update(c);
      yield c;
    }
  })();
  const stream = (async function* () {
    for await (const c of compress(tar, compression, opts.level)) {
      blob.update(c);
      yield c;
    }
    finished = true;
  })();
  return {
    stream,
    descriptor: () => {
      if (!finished) throw new PierError("FailedPrecondition", "layer stream not read to its end");
      return {
        mediaType: MEDIA_TYPES[compression],
        digest: blob.digest(),
        size: blob.size,
        diffID: diff.digest(),
        uncompressedSize: diff.size,
      };
    },
  };
}

/** Archives `dir` into the content store as one layer blob. */
export async function commitLayer(
  content: ContentStore,
  dir: string,
  opts: LayerOptions = {},
): Promise<LayerDescriptor> {
  const { stream, descriptor } = layerStream(dir, opts);
  const w = await content.writer(`layer-${process.pid}-${randomUUID()}`);
  try {
    for await (const c of stream) await w.write(c);
  } catch (err) {
    await w.abort();
    throw wrap(err, `archive ${dir}`);
  }
  const d = descriptor();
  const stored = await w.commit();
  if (stored.digest !== d.digest)
    throw new PierError("Internal", `layer digest ${stored.digest} != ${d.digest}`);
  return d;
}
