/**
 * Layer compression: detected from the stream's first bytes, not trusted from
 * a media type. gzip through node:zlib; zstd through the `zstd` program (Node
 * 20 has no zstd), refused by name when it is not installed; bzip2 and xz are
 * refused by name.
 */
import { spawn, spawnSync } from "node:child_process";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import { PierError } from "../../common/errors.ts";

export type Compression = "none" | "gzip" | "zstd";

export const MEDIA_TYPES: Record<Compression, string> = {
  none: "application/vnd.oci.image.layer.v1.tar",
  gzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  zstd: "application/vnd.oci.image.layer.v1.tar+zstd",
};

export function sniff(head: Buffer): Compression | "bzip2" | "xz" {
  if (head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head.readUInt32LE(0) === 0xfd2fb528) return "zstd";
  if (head.subarray(0, 3).toString("latin1") === "BZh") return "bzip2";
  if (head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return "xz";
  return "none";
}

let zstdAvailable: boolean | undefined;
export function hasZstd(): boolean {
  zstdAvailable ??= spawnSync("zstd", ["--version"], { stdio: "ignore" }).status === 0;
  return zstdAvailable;
}

/** Reads until at least `n` bytes are buffered (or the stream ends); returns them and the rest. */
async function peek(
  src: AsyncIterable<Buffer>,
  n: number,
): Promise<{ head: Buffer; rest: AsyncIterable<Buffer> }> {
  const it = src[Symbol.asyncIterator]();
  const parts: Buffer[] = [];
  let have = 0;
  let ended = false;
  while (have < n) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    parts.push(r.value);
    have += r.value.length;
  }
  const head = Buffer.concat(parts);
  const rest = (async function* () {
    if (head.length) yield head;
    if (ended) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  })();
  return { head, rest };
}

/** The decompressed bytes of `src`, whatever its (supported) compression. */
export async function decompress(
  src: AsyncIterable<Buffer>,
): Promise<{ compression: Compression; stream: AsyncIterable<Buffer> }> {
  const { head, rest } = await peek(src, 6);
  const kind = sniff(head);
  switch (kind) {
    case "none":
      return { compression: "none", stream: rest };
    case "gzip": {
      // Big chunks: fewer round trips to the thread pool (16 KiB by default).
      const gunzip = createGunzip({ chunkSize: 1 << 20 });
      pipeline(Readable.from(rest), gunzip).catch((err: unknown) => gunzip.destroy(asError(err, "gzip")));
      return { compression: "gzip", stream: gzipErrors(gunzip) };
    }
    case "zstd":
      if (!hasZstd())
        throw new PierError("NotImplemented", "zstd layers need the zstd program", {
          hint: "apt-get install zstd",
        });
      return { compression: "zstd", stream: throughProgram("zstd", ["-d", "-c", "-q"], rest) };
    default:
      throw new PierError("NotImplemented", `${kind}-compressed layers are not implemented`);
  }
}

async function* gzipErrors(s: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  try {
    yield* s;
  } catch (err) {
    throw asError(err, "gzip");
  }
}

function asError(err: unknown, what: string): PierError {
  if (err instanceof PierError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  return new PierError("InvalidArgument", `${what}: corrupt compressed data: ${msg}`, { cause: err });
}

/** `src` compressed as asked. */
export function compress(
  src: AsyncIterable<Buffer>,
  kind: Compression,
  level?: number,
): AsyncIterable<Buffer> {
  switch (kind) {
    case "none":
      return src;
    case "gzip": {
      const gz = createGzip(level === undefined ? {} : { level });
      pipeline(Readable.from(src), gz).catch((err: unknown) => gz.destroy(err as Error));
      return gz;
    }
    case "zstd":
      if (!hasZstd())
        throw new PierError("NotImplemented", "zstd layers need the zstd program", {
          hint: "apt-get install zstd",
        });
      return throughProgram("zstd", ["-c", "-q", `-${level ?? 3}`], src);
  }
}

/** Pipes `src` through a program; the program is killed if the consumer stops early. */
async function* throughProgram(
  cmd: string,
  args: string[],
  src: AsyncIterable<Buffer>,
): AsyncGenerator<Buffer> {
  const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const feeding = pipeline(Readable.from(src), child.stdin).catch((err: unknown) => {
    child.kill("SIGKILL");
    return err;
  });
  let ok = false;
  try {
    for await (const c of child.stdout as AsyncIterable<Buffer>) yield c;
    const fed = await feeding;
    if (fed) throw fed;
    const code = await exited;
    if (code !== 0) throw new PierError("InvalidArgument", `${cmd}: ${stderr.trim() || `exit ${code}`}`);
    ok = true;
  } finally {
    if (!ok) {
      child.kill("SIGKILL");
      await exited;
    }
  }
}
