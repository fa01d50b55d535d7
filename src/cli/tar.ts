/**
 * The small tar the CLI needs for `pier cp` (the archive endpoints speak tar): a writer
 * that packs a local file or directory tree under a chosen top name, and a reader that
 * extracts entries into a local directory. ustar with PAX records for long names, long
 * link targets and big sizes; GNU long names are read too.
 *
 * Extraction refuses what could land outside the destination: absolute names, `..`
 * components, and entries whose parent on disk is a symlink.
 */
import {
  closeSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeSync,
  chmodSync,
  linkSync,
  type Stats,
} from "node:fs";
import { join } from "node:path";
import { PierError } from "../common/errors.ts";

const BLOCK = 512;

export interface TarEntry {
  name: string;
  type: "file" | "dir" | "symlink" | "hardlink" | "other";
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string;
}

// ---- writing -------------------------------------------------------------------------------

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, "0") + "\0";
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len)
    len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

function rawHeader(e: TarEntry, typeflag: string, name: string, linkname: string, size: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, "utf8");
  h.write(octal(e.mode & 0o7777, 8), 100, "ascii");
  h.write(octal(Math.min(e.uid, 0o7777777), 8), 108, "ascii");
  h.write(octal(Math.min(e.gid, 0o7777777), 8), 116, "ascii");
  h.write(octal(Math.min(size, 0o77777777777), 12), 124, "ascii");
  h.write(octal(Math.max(0, Math.floor(e.mtime)), 12), 136, "ascii");
  h.write("        ", 148, "ascii");
  h.write(typeflag, 156, "ascii");
  h.write(linkname, 157, 100, "utf8");
  h.write("ustar\0", 257, "ascii");
  h.write("00", 263, "ascii");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + " ", 148, "ascii");
  return h;
}

const padding = (n: number) => Buffer.alloc((BLOCK - (n % BLOCK)) % BLOCK);

/** The header block(s) of one entry, with a PAX record first when a field does not fit. */
export function header(e: TarEntry): Buffer {
  const flag = { file: "0", dir: "5", symlink: "2", hardlink: "1", other: "0" }[e.type];
  const name = e.type === "dir" && !e.name.endsWith("/") ? `${e.name}/` : e.name;
  const pax: string[] = [];
  if (Buffer.byteLength(name) > 100) pax.push(paxRecord("path", name));
  if (Buffer.byteLength(e.linkname) > 100) pax.push(paxRecord("linkpath", e.linkname));
  if (e.size > 0o77777777777) pax.push(paxRecord("size", String(e.size)));
  const main = rawHeader(e, flag, name.slice(0, 100), e.linkname.slice(0, 100), e.size);
  if (pax.length === 0) return main;
  const body = Buffer.from(pax.join(""));
  const ph = rawHeader({ ...e, mode: 0o644 }, "x", "PaxHeader", "", body.length);
  return Buffer.concat([ph, body, padding(body.length), main]);
}

function entryOf(path: string, name: string, st: Stats): TarEntry {
  const type = st.isDirectory() ? "dir" : st.isSymbolicLink() ? "symlink" : st.isFile() ? "file" : "other";
  return {
    name,
    type,
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    size: type === "file" ? st.size : 0,
    mtime: st.mtimeMs / 1000,
    linkname: type === "symlink" ? readlinkSync(path) : "",
  };
}

/**
 * Packs `path` (a file, or a directory and everything under it) as entries named
 * `top`, `top/…`; `contentsOnly` packs a directory's children at the top level instead.
 * Symlinks are stored as links unless `followTop` (the top itself, for `cp -L`).
 */
export async function* packPath(
  path: string,
  top: string,
  opts: { contentsOnly?: boolean; followTop?: boolean } = {},
): AsyncGenerator<Buffer> {
  const walk = function* (p: string, name: string, st: Stats): Generator<[string, string, Stats]> {
    yield [p, name, st];
    if (st.isDirectory()) {
      for (const child of readdirSync(p).sort()) {
        const cp = join(p, child);
        yield* walk(cp, name === "" ? child : `${name}/${child}`, lstatSync(cp));
      }
    }
  };
  const st = opts.followTop
    ? lstatSync(path).isSymbolicLink()
      ? statFollow(path)
      : lstatSync(path)
    : lstatSync(path);
  const items =
    opts.contentsOnly && st.isDirectory() ? [...walk(path, "", st)].slice(1) : [...walk(path, top, st)];
  const buf = Buffer.alloc(1 << 20);
  for (const [p, name, s] of items) {
    const e = entryOf(p, name, s);
    yield header(e);
    if (e.type !== "file") continue;
    const fd = openSync(p, "r");
    try {
      let left = e.size;
      while (left > 0) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, left), null);
        if (n === 0) throw new PierError("Internal", `${p}: file shrank while being copied`);
        left -= n;
        yield Buffer.from(buf.subarray(0, n));
      }
    } finally {
      closeSync(fd);
    }
    yield padding(e.size);
  }
  yield Buffer.alloc(BLOCK * 2);
}

function statFollow(path: string): Stats {
  // lstat of the resolved path: what the link points at.
  const target = readlinkSync(path);
  return lstatSync(target.startsWith("/") ? target : join(path, "..", target));
}

// ---- reading -------------------------------------------------------------------------------

function cstr(b: Buffer, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const nul = s.indexOf(0);
  return s.subarray(0, nul < 0 ? len : nul).toString("utf8");
}

function num(b: Buffer, off: number, len: number): number {
  if (b[off]! & 0x80) {
    // base-256 (GNU) for big values
    let n = 0;
    for (let i = off + 1; i < off + len; i++) n = n * 256 + b[i]!;
    return n;
  }
  const s = cstr(b, off, len).trim();
  return s === "" ? 0 : parseInt(s, 8);
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const sp = data.indexOf(0x20, i);
    if (sp < 0) break;
    const len = Number(data.subarray(i, sp).toString("ascii"));
    if (!len) break;
    const rec = data.subarray(sp + 1, i + len - 1).toString("utf8");
    const eq = rec.indexOf("=");
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}

/** Reads entries from a tar stream; `onEntry` gets each header and its data as chunks. */
export async function readTar(
  body: AsyncIterable<Uint8Array>,
  onEntry: (e: TarEntry, data: AsyncGenerator<Buffer>) => Promise<void>,
): Promise<void> {
  const it = body[Symbol.asyncIterator]();
  let buf: Buffer = Buffer.alloc(0);
  let ended = false;
  const fill = async (n: number): Promise<boolean> => {
    while (buf.length < n && !ended) {
      const r = await it.next();
      if (r.done) ended = true;
      else buf = buf.length === 0 ? Buffer.from(r.value) : Buffer.concat([buf, r.value]);
    }
    return buf.length >= n;
  };
  const take = (n: number) => {
    const out = buf.subarray(0, n);
    buf = buf.subarray(n);
    return out;
  };
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  while (await fill(BLOCK)) {
    const h = Buffer.from(take(BLOCK));
    if (h.every((b) => b === 0)) break;
    const flag = String.fromCharCode(h[156] || 48);
    let size = num(h, 124, 12);
    if (pax.size) size = Number(pax.size);
    const padded = size + ((BLOCK - (size % BLOCK)) % BLOCK);
    if (flag === "x" || flag === "L" || flag === "K" || flag === "g") {
      if (!(await fill(padded))) throw new PierError("InvalidArgument", "tar: unexpected end of archive");
      const data = Buffer.from(take(padded).subarray(0, size));
      if (flag === "x") pax = { ...pax, ...parsePax(data) };
      else if (flag === "L") longName = data.toString("utf8").replace(/\0+$/, "");
      else if (flag === "K") longLink = data.toString("utf8").replace(/\0+$/, "");
      continue;
    }
    const prefix = cstr(h, 345, 155);
    let name = pax.path ?? longName ?? (prefix ? `${prefix}/${cstr(h, 0, 100)}` : cstr(h, 0, 100));
    const linkname = pax.linkpath ?? longLink ?? cstr(h, 157, 100);
    pax = {};
    longName = undefined;
    longLink = undefined;
    const type: TarEntry["type"] =
      flag === "5"
        ? "dir"
        : flag === "2"
          ? "symlink"
          : flag === "1"
            ? "hardlink"
            : flag === "0" || flag === "\0" || flag === "7"
              ? "file"
              : "other";
    if (type === "dir") name = name.replace(/\/+$/, "");
    const entry: TarEntry = {
      name,
      type,
      mode: num(h, 100, 8),
      uid: num(h, 108, 8),
      gid: num(h, 116, 8),
      size,
      mtime: num(h, 136, 12),
      linkname,
    };
    let left = size;
    const data = async function* (): AsyncGenerator<Buffer> {
      while (left > 0) {
        if (buf.length === 0 && !(await fill(1)))
          throw new PierError("InvalidArgument", "tar: unexpected end of archive");
        const chunk = take(Math.min(left, buf.length));
        left -= chunk.length;
        yield Buffer.from(chunk);
      }
    };
    await onEntry(entry, data());
    // Whatever the handler did not read is skipped.
    while (left > 0) {
      if (buf.length === 0 && !(await fill(1)))
        throw new PierError("InvalidArgument", "tar: unexpected end of archive");
      left -= take(Math.min(left, buf.length)).length;
    }
    const pad = padded - size;
    if (pad > 0 && !(await fill(pad))) break;
    take(pad);
  }
  // Drain so the connection can finish.
  while (!ended) {
    const r = await it.next();
    if (r.done) ended = true;
  }
}

/** A safe relative path inside the destination, or undefined for one that would leave it. */
export function safeRelative(name: string): string | undefined {
  if (name.startsWith("/")) return undefined;
  const parts = name.split("/").filter((x) => x !== "" && x !== ".");
  if (parts.some((x) => x === "..")) return undefined;
  return parts.join("/");
}

/**
 * Extracts a tar stream into `dir`, each entry name first passed through `rename` (which
 * may drop it by returning undefined). Modes and mtimes are kept; owners are ours.
 */
export async function extractTar(
  body: AsyncIterable<Uint8Array>,
  dir: string,
  rename: (name: string) => string | undefined = (n) => n,
): Promise<void> {
  const dirs: [string, number, number][] = [];
  await readTar(body, async (e, data) => {
    const renamed = rename(e.name);
    if (renamed === undefined) return;
    const rel = safeRelative(renamed);
    if (rel === undefined)
      throw new PierError(
        "InvalidArgument",
        `refusing to extract ${JSON.stringify(e.name)}: it leaves the destination`,
      );
    const target = rel === "" ? dir : join(dir, rel);
    // No parent of the target may be a symlink (one the archive made could point anywhere).
    const parts = rel.split("/");
    for (let i = 1; i < parts.length; i++) {
      const parent = join(dir, ...parts.slice(0, i));
      let st: Stats | undefined;
      try {
        st = lstatSync(parent);
      } catch {
        st = undefined;
      }
      if (st?.isSymbolicLink())
        throw new PierError("InvalidArgument", `refusing to extract ${e.name}: ${parent} is a symlink`);
      if (!st) mkdirSync(parent, { recursive: true });
    }
    switch (e.type) {
      case "dir":
        mkdirSync(target, { recursive: true });
        dirs.push([target, e.mode, e.mtime]);
        return;
      case "symlink":
        rmSync(target, { force: true });
        symlinkSync(e.linkname, target);
        return;
      case "hardlink": {
        const src = safeRelative(rename(e.linkname) ?? "");
        if (src === undefined)
          throw new PierError("InvalidArgument", `refusing hard link ${e.name} → ${e.linkname}`);
        rmSync(target, { force: true });
        linkSync(join(dir, src), target);
        return;
      }
      case "file": {
        try {
          if (lstatSync(target).isDirectory())
            throw new PierError("Conflict", `cannot overwrite directory ${target} with a file`);
          rmSync(target, { force: true });
        } catch (err) {
          if (err instanceof PierError) throw err;
        }
        const fd = openSync(target, "w", e.mode & 0o7777);
        try {
          for await (const chunk of data) writeSync(fd, chunk);
        } finally {
          closeSync(fd);
        }
        chmodSync(target, e.mode & 0o7777);
        utimesSync(target, e.mtime, e.mtime);
        return;
      }
      default:
        return; // devices and fifos are not recreated by a user's cp
    }
  });
  for (const [d, mode, mtime] of dirs.reverse()) {
    chmodSync(d, mode & 0o7777);
    utimesSync(d, mtime, mtime);
  }
}
