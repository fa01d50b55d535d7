/**
 * A streaming tar reader and a header writer, written here rather than taken
 * from a dependency so that what we accept from hostile input is under our
 * control.
 *
 * Read: ustar, POSIX pax (`x` per-entry and `g` global headers; path, linkpath,
 * size, uid, gid, uname, gname, mtime, SCHILY.xattr.*, LIBARCHIVE.xattr.*),
 * GNU (long names `L`/`K`, base-256 numbers, dumpdir `D` as a directory, volume
 * labels skipped), and v7 (a trailing "/" means a directory). Refused by name:
 * sparse files (`S`, GNU.sparse.*), multi-volume archives, unknown entry types,
 * names that are not UTF-8, bad checksums, truncated archives, meta data (pax,
 * long names) larger than `maxMetaBytes`.
 *
 * The reader does not judge names: `name` and `linkname` are as in the archive.
 * Making them safe is the unpacker's job.
 *
 * Write: ustar headers, with a pax header before them when a field does not fit
 * (long or non-ASCII names, big ids or sizes) or xattrs are present. Output is
 * deterministic: no uname/gname, pax header names derived from the entry's.
 */
import { PierError } from "../../common/errors.ts";

export type EntryType = "file" | "hardlink" | "symlink" | "char" | "block" | "dir" | "fifo";

export interface TarHeader {
  name: string;
  type: EntryType;
  /** Bytes of body (regular files; 0 for the rest). */
  size: number;
  /** Permission bits including setuid/setgid/sticky (0o7777). */
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  /** Seconds since the epoch; fractional when a pax header said so. */
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  xattrs: Map<string, Buffer>;
}

export interface TarEntry {
  header: TarHeader;
  /** The body; read it once, or not at all (it is skipped before the next entry). */
  body: AsyncIterable<Buffer>;
}

export interface ReadTarOptions {
  /** Largest pax header or GNU long name accepted (default 1 MiB). */
  maxMetaBytes?: number;
}

const BLOCK = 512;
const utf8 = new TextDecoder("utf-8", { fatal: true });

function bad(msg: string): PierError {
  return new PierError("InvalidArgument", `tar: ${msg}`);
}

/** Pulls exact byte counts out of an async stream of chunks. */
export class ByteSource {
  private readonly it: AsyncIterator<Buffer>;
  private cur: Buffer = Buffer.alloc(0);
  private pos = 0;
  private done = false;

  constructor(src: AsyncIterable<Buffer>) {
    this.it = src[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    while (this.pos >= this.cur.length) {
      if (this.done) return false;
      const r = await this.it.next();
      if (r.done) {
        this.done = true;
        return false;
      }
      this.cur = r.value;
      this.pos = 0;
    }
    return true;
  }

  /** Exactly `n` bytes; null at a clean end of stream; an error if it ends inside them. */
  async read(n: number): Promise<Buffer | null> {
    if (!(await this.fill())) return null;
    if (this.cur.length - this.pos >= n) {
      const b = this.cur.subarray(this.pos, this.pos + n);
      this.pos += n;
      return b;
    }
    const parts: Buffer[] = [];
    let got = 0;
    while (got < n) {
      if (!(await this.fill())) throw bad("archive is truncated");
      const take = Math.min(n - got, this.cur.length - this.pos);
      parts.push(this.cur.subarray(this.pos, this.pos + take));
      this.pos += take;
      got += take;
    }
    return Buffer.concat(parts, n);
  }

  /** The next `n` bytes as they arrive. */
  async *chunks(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (!(await this.fill())) throw bad("archive is truncated");
      const take = Math.min(left, this.cur.length - this.pos);
      const b = this.cur.subarray(this.pos, this.pos + take);
      this.pos += take;
      left -= take;
      yield b;
    }
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.chunks(n)) {
      // discard
    }
  }

  /** Reads to the end (so that a digest over the stream covers every byte). */
  async drain(): Promise<void> {
    this.pos = this.cur.length;
    while (await this.fill()) this.pos = this.cur.length;
  }
}

function cstring(b: Buffer, off: number, len: number): Buffer {
  const field = b.subarray(off, off + len);
  const nul = field.indexOf(0);
  return nul < 0 ? field : field.subarray(0, nul);
}

function text(b: Buffer, what: string): string {
  try {
    return utf8.decode(b);
  } catch {
    throw new PierError("NotImplemented", `tar: ${what} is not UTF-8 (${b.toString("hex")})`);
  }
}

/** Octal, or GNU base-256 when the high bit of the first byte is set. */
function number(b: Buffer, off: number, len: number, what: string): number {
  const f = b.subarray(off, off + len);
  if (f[0]! & 0x80) {
    const negative = f[0] === 0xff;
    let v = BigInt(f[0]! & 0x7f);
    for (let i = 1; i < f.length; i++) v = (v << 8n) | BigInt(f[i]!);
    if (negative) v -= 1n << BigInt(8 * f.length - 1);
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER))
      throw bad(`${what} too large`);
    return Number(v);
  }
  const s = f
    .toString("latin1")
    .replace(/[\0 ]+$/, "")
    .replace(/^ +/, "");
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) throw bad(`${what} is not a number: ${JSON.stringify(s)}`);
  const v = parseInt(s, 8);
  if (!Number.isSafeInteger(v)) throw bad(`${what} too large`);
  return v;
}

function checksumOk(b: Buffer): boolean {
  const stored = number(b, 148, 8, "checksum");
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : b[i]!;
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  return stored === unsigned || stored === signed;
}

function isZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

type PaxValues = Map<string, Buffer>;

function parsePax(buf: Buffer): PaxValues {
  const out: PaxValues = new Map();
  let i = 0;
  while (i < buf.length) {
    if (buf[i] === 0) break; // padding some writers leave
    const sp = buf.indexOf(0x20, i);
    if (sp < 0) throw bad("malformed pax record");
    const len = Number(buf.subarray(i, sp).toString("latin1"));
    if (!Number.isSafeInteger(len) || len <= sp - i + 1 || i + len > buf.length)
      throw bad("malformed pax record");
    const rec = buf.subarray(sp + 1, i + len);
    if (rec[rec.length - 1] !== 0x0a) throw bad("malformed pax record");
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw bad("malformed pax record");
    out.set(text(rec.subarray(0, eq), "pax key"), rec.subarray(eq + 1, rec.length - 1));
    i += len;
  }
  return out;
}

function paxNumber(v: Buffer, key: string): number {
  const s = v.toString("latin1");
  if (!/^-?\d+(\.\d+)?$/.test(s)) throw bad(`pax ${key} is not a number: ${JSON.stringify(s)}`);
  const n = Number(s);
  if (!Number.isFinite(n) || Math.abs(n) > Number.MAX_SAFE_INTEGER) throw bad(`pax ${key} out of range`);
  return n;
}

const TYPES: Record<string, EntryType> = {
  "0": "file",
  "\0": "file",
  "7": "file",
  "1": "hardlink",
  "2": "symlink",
  "3": "char",
  "4": "block",
  "5": "dir",
  "6": "fifo",
  D: "dir",
};

/** Reads entries one by one; unread bodies are skipped. The stream is drained to its end. */
export async function* readTar(
  src: AsyncIterable<Buffer>,
  opts: ReadTarOptions = {},
): AsyncGenerator<TarEntry> {
  const maxMeta = opts.maxMetaBytes ?? 1024 * 1024;
  const in_ = new ByteSource(src);
  const global: PaxValues = new Map();
  let pax: PaxValues | undefined;
  let longName: Buffer | undefined;
  let longLink: Buffer | undefined;
  let sawHeader = false;

  const readMeta = async (size: number, what: string): Promise<Buffer> => {
    if (size > maxMeta)
      throw new PierError("ResourceExhausted", `tar: ${what} of ${size} bytes exceeds ${maxMeta}`);
    const b = (await in_.read(size)) ?? Buffer.alloc(0);
    if (b.length !== size) throw bad("archive is truncated");
    await in_.skip(pad(size));
    return b;
  };

  for (;;) {
    const block = await in_.read(BLOCK);
    if (block === null) {
      if (!sawHeader) throw bad("empty archive");
      // Some writers omit the end-of-archive blocks; accept a clean end between entries.
      if (pax || longName || longLink) throw bad("archive is truncated");
      return;
    }
    if (isZero(block)) {
      // End of archive (normally two zero blocks; we stop at the first and drain the rest).
      if (pax || longName || longLink) throw bad("archive ends after a meta header");
      await in_.drain();
      return;
    }
    if (!checksumOk(block))
      throw bad(sawHeader ? "bad header checksum" : "not a tar archive (bad header checksum)");
    sawHeader = true;
    const flag = String.fromCharCode(block[156]!);
    const magic = block.subarray(257, 263).toString("latin1");
    const posix = magic === "ustar\0";
    const headerSize = number(block, 124, 12, "size");

    switch (flag) {
      case "x":
        pax = parsePax(await readMeta(headerSize, "pax header"));
        continue;
      case "g":
        for (const [k, v] of parsePax(await readMeta(headerSize, "pax global header"))) global.set(k, v);
        continue;
      case "L":
        longName = cstring(await readMeta(headerSize, "GNU long name"), 0, headerSize);
        continue;
      case "K":
        longLink = cstring(await readMeta(headerSize, "GNU long link name"), 0, headerSize);
        continue;
      case "V":
        await in_.skip(headerSize + pad(headerSize));
        continue;
      case "S":
        throw new PierError("NotImplemented", "tar: GNU sparse files are not implemented");
      case "M":
      case "N":
        throw new PierError("NotImplemented", "tar: multi-volume archives are not implemented");
    }
    let type = TYPES[flag];
    if (!type)
      throw new PierError("NotImplemented", `tar: entry type ${JSON.stringify(flag)} not implemented`);

    const rec = new Map([...global, ...(pax ?? [])]);
    for (const k of rec.keys())
      if (k.startsWith("GNU.sparse."))
        throw new PierError("NotImplemented", "tar: sparse files are not implemented");

    let nameBytes = cstring(block, 0, 100);
    if (posix) {
      const prefix = cstring(block, 345, 155);
      if (prefix.length) nameBytes = Buffer.concat([prefix, Buffer.from("/"), nameBytes]);
    }
    if (longName) nameBytes = longName;
    const paxPath = rec.get("path");
    if (paxPath) nameBytes = paxPath;
    let linkBytes = cstring(block, 157, 100);
    if (longLink) linkBytes = longLink;
    const paxLink = rec.get("linkpath");
    if (paxLink) linkBytes = paxLink;

    const name = text(nameBytes, "entry name");
    if (type === "file" && name.endsWith("/")) type = "dir";
    const h: TarHeader = {
      name,
      type,
      size: headerSize,
      mode: number(block, 100, 8, "mode") & 0o7777,
      uid: number(block, 108, 8, "uid"),
      gid: number(block, 116, 8, "gid"),
      uname: text(cstring(block, 265, 32), "uname"),
      gname: text(cstring(block, 297, 32), "gname"),
      mtime: number(block, 136, 12, "mtime"),
      linkname: text(linkBytes, "link name"),
      devmajor: type === "char" || type === "block" ? number(block, 329, 8, "devmajor") : 0,
      devminor: type === "char" || type === "block" ? number(block, 337, 8, "devminor") : 0,
      xattrs: new Map(),
    };
    for (const [k, v] of rec) {
      switch (k) {
        case "size":
          h.size = paxNumber(v, k);
          break;
        case "uid":
          h.uid = paxNumber(v, k);
          break;
        case "gid":
          h.gid = paxNumber(v, k);
          break;
        case "mtime":
          h.mtime = paxNumber(v, k);
          break;
        case "uname":
          h.uname = text(v, "uname");
          break;
        case "gname":
          h.gname = text(v, "gname");
          break;
        default:
          if (k.startsWith("SCHILY.xattr.")) h.xattrs.set(k.slice(13), v);
          else if (k.startsWith("LIBARCHIVE.xattr.")) {
            h.xattrs.set(decodeURIComponent(k.slice(17)), Buffer.from(v.toString("latin1"), "base64"));
          }
      }
    }
    if (!Number.isSafeInteger(h.size) || h.size < 0) throw bad(`bad size for ${name}`);
    pax = longName = longLink = undefined;

    // Only regular files carry data we hand out; anything else's body is skipped.
    const bodySize = h.size;
    if (type !== "file") h.size = 0;
    let consumed = false;
    let taken = 0;
    const counting = async function* () {
      for await (const c of in_.chunks(bodySize)) {
        taken += c.length;
        yield c;
      }
    };
    const entry: TarEntry = {
      header: h,
      body: {
        [Symbol.asyncIterator]: () => {
          if (consumed) throw new PierError("Internal", "tar: entry body read twice");
          consumed = true;
          return (type === "file" ? counting() : (async function* () {})())[Symbol.asyncIterator]();
        },
      },
    };
    yield entry;
    await in_.skip(bodySize - taken + pad(bodySize));
  }
}

function pad(n: number): number {
  return (BLOCK - (n % BLOCK)) % BLOCK;
}

// ---- writing ------------------------------------------------------------------

export interface HeaderInput {
  name: string;
  type: EntryType;
  size?: number;
  mode: number;
  uid?: number;
  gid?: number;
  mtime: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  xattrs?: Map<string, Buffer>;
  /** Extra pax records (tests use this to craft archives). */
  pax?: Map<string, Buffer>;
}

const TYPEFLAG: Record<EntryType, string> = {
  file: "0",
  hardlink: "1",
  symlink: "2",
  char: "3",
  block: "4",
  dir: "5",
  fifo: "6",
};

const MAX_OCTAL = (digits: number) => 8 ** digits - 1;

/**
 * The header block(s) for one entry: a pax header when needed, then ustar.
 * The caller writes the body and `padding(size)` after it.
 */
export function encodeHeader(h: HeaderInput): Buffer {
  const size = h.type === "file" ? (h.size ?? 0) : 0;
  const uid = h.uid ?? 0;
  const gid = h.gid ?? 0;
  const linkname = h.linkname ?? "";
  const records = new Map<string, Buffer>(h.pax ?? []);

  const nameBytes = Buffer.from(h.name);
  const split = splitName(nameBytes);
  const ascii = (b: Buffer) => b.every((c) => c < 0x80);
  if (!split || !ascii(nameBytes)) records.set("path", nameBytes);
  const linkBytes = Buffer.from(linkname);
  if (linkBytes.length > 100 || !ascii(linkBytes)) records.set("linkpath", linkBytes);
  if (uid > MAX_OCTAL(7)) records.set("uid", Buffer.from(String(uid)));
  if (gid > MAX_OCTAL(7)) records.set("gid", Buffer.from(String(gid)));
  if (size > MAX_OCTAL(11)) records.set("size", Buffer.from(String(size)));
  const mtime = Math.floor(h.mtime);
  if (mtime < 0 || mtime > MAX_OCTAL(11)) records.set("mtime", Buffer.from(String(mtime)));
  for (const k of [...(h.xattrs?.keys() ?? [])].sort()) records.set(`SCHILY.xattr.${k}`, h.xattrs!.get(k)!);

  const ustar = Buffer.alloc(BLOCK);
  const [prefix, name] =
    split && !records.has("path") ? split : [Buffer.alloc(0), nameBytes.subarray(0, 100)];
  name.copy(ustar, 0);
  writeOctal(ustar, 100, 8, h.mode & 0o7777);
  writeOctal(ustar, 108, 8, Math.min(uid, MAX_OCTAL(7)));
  writeOctal(ustar, 116, 8, Math.min(gid, MAX_OCTAL(7)));
  writeOctal(ustar, 124, 12, Math.min(size, MAX_OCTAL(11)));
  writeOctal(ustar, 136, 12, Math.max(0, Math.min(mtime, MAX_OCTAL(11))));
  ustar.write(TYPEFLAG[h.type], 156, "latin1");
  linkBytes.subarray(0, 100).copy(ustar, 157);
  ustar.write("ustar\x0000", 257, "latin1");
  writeOctal(ustar, 329, 8, h.devmajor ?? 0);
  writeOctal(ustar, 337, 8, h.devminor ?? 0);
  prefix.copy(ustar, 345);
  finishChecksum(ustar);
  if (records.size === 0) return ustar;

  const body = encodePax(records);
  const paxHeader = Buffer.alloc(BLOCK);
  const base = nameBytes.toString("utf8").replace(/\/$/, "").split("/").pop() ?? "";
  Buffer.from(`PaxHeaders/${base}`.replace(/[^\x20-\x7e]/g, "_"))
    .subarray(0, 100)
    .copy(paxHeader, 0);
  writeOctal(paxHeader, 100, 8, 0o644);
  writeOctal(paxHeader, 108, 8, 0);
  writeOctal(paxHeader, 116, 8, 0);
  writeOctal(paxHeader, 124, 12, body.length);
  writeOctal(paxHeader, 136, 12, Math.max(0, Math.min(mtime, MAX_OCTAL(11))));
  paxHeader.write("x", 156, "latin1");
  paxHeader.write("ustar\x0000", 257, "latin1");
  finishChecksum(paxHeader);
  return Buffer.concat([paxHeader, body, Buffer.alloc(pad(body.length)), ustar]);
}

export function padding(size: number): Buffer {
  return Buffer.alloc(pad(size));
}

/** The two zero blocks that end an archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);

function encodePax(records: Map<string, Buffer>): Buffer {
  const parts: Buffer[] = [];
  for (const [k, v] of records) {
    const rest = 1 + Buffer.byteLength(k) + 1 + v.length + 1; // " key=value\n"
    let len = rest + String(rest).length;
    if (String(len).length !== String(rest).length) len = rest + String(len).length;
    parts.push(Buffer.from(`${len} ${k}=`), v, Buffer.from("\n"));
  }
  return Buffer.concat(parts);
}

/** ustar's prefix/name split of a path, or undefined when it does not fit. */
function splitName(b: Buffer): [Buffer, Buffer] | undefined {
  if (b.length <= 100) return [Buffer.alloc(0), b];
  for (let i = Math.min(b.length - 1, 155); i > 0; i--) {
    if (b[i] === 0x2f && b.length - i - 1 <= 100 && b.length - i - 1 > 0)
      return [b.subarray(0, i), b.subarray(i + 1)];
  }
  return undefined;
}

function writeOctal(b: Buffer, off: number, len: number, v: number): void {
  b.write(v.toString(8).padStart(len - 1, "0") + "\0", off, len, "latin1");
}

function finishChecksum(b: Buffer): void {
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  b.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "latin1");
}
