/**
 * ADD's local archives: a source file that is a tar archive (plain, gzip,
 * bzip2, xz or zstd — told by its first bytes, never by its name) is
 * extracted into the destination instead of copied. As in Docker, a file is
 * an archive when, once decompressed, it starts with a valid tar header.
 *
 * Usage:
 *   const kind = await detectArchive("/ctx/rootfs.tar.xz");   // "xz" | undefined
 *   for await (const chunk of archiveStream("/ctx/rootfs.tar.xz", "xz")) ...  // the tar bytes
 */
import { spawn, spawnSync } from "node:child_process";
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { constants, gunzipSync } from "node:zlib";
import { PierError } from "../../common/errors.ts";
import { decompress, sniff } from "../../image/layer/compression.ts";

export type ArchiveCompression = "none" | "gzip" | "bzip2" | "xz" | "zstd";

const PROGRAMS: Record<"bzip2" | "xz" | "zstd", string> = { bzip2: "bzip2", xz: "xz", zstd: "zstd" };
const HEAD = 64 * 1024;

/** Whether a 512-byte block is a tar header: not all zeros, and its checksum adds up. */
export function isTarHeader(block: Buffer): boolean {
  if (block.length < 512) return false;
  if (block.subarray(0, 512).every((b) => b === 0)) return false;
  const field = block.subarray(148, 156).toString("latin1").replace(/\0.*$/s, "").trim();
  if (!/^[0-7]+$/.test(field)) return false;
  const want = Number.parseInt(field, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : (block[i] as number);
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return want === unsigned || want === signed;
}

/** The first bytes of the decompressed content (as much as the head of the file gives). */
function decompressHead(kind: ArchiveCompression, head: Buffer): Buffer {
  switch (kind) {
    case "none":
      return head;
    case "gzip":
      try {
        return gunzipSync(head, { finishFlush: constants.Z_SYNC_FLUSH });
      } catch {
        return Buffer.alloc(0);
      }
    default: {
      const program = PROGRAMS[kind];
      const r = spawnSync(program, ["-d", "-c", "-q"], { input: head, maxBuffer: 16 * HEAD });
      if (r.error && (r.error as NodeJS.ErrnoException).code === "ENOENT") {
        throw new PierError("NotImplemented", `${kind}-compressed archives need the ${program} program`, {
          hint: `apt-get install ${program}`,
        });
      }
      return r.stdout ?? Buffer.alloc(0);
    }
  }
}

/** The compression of `path` if it is a tar archive (undefined: an ordinary file). */
export async function detectArchive(path: string): Promise<ArchiveCompression | undefined> {
  const fh = await open(path, "r");
  let head: Buffer;
  try {
    const buf = Buffer.alloc(HEAD);
    const { bytesRead } = await fh.read(buf, 0, HEAD, 0);
    head = buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
  // Anything shorter cannot hold a (compressed) tar header; sniff needs 6 bytes.
  if (head.length < 6) return undefined;
  const kind = sniff(head);
  return isTarHeader(decompressHead(kind, head)) ? kind : undefined;
}

/** The decompressed (tar) bytes of an archive detectArchive recognised. */
export async function* archiveStream(path: string, kind: ArchiveCompression): AsyncGenerator<Buffer> {
  const file = createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>;
  if (kind === "none" || kind === "gzip" || kind === "zstd") {
    yield* (await decompress(file)).stream;
    return;
  }
  const program = PROGRAMS[kind];
  const child = spawn(program, ["-d", "-c", "-q"], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", resolve);
  });
  const feed = (async () => {
    try {
      for await (const c of file)
        if (!child.stdin.write(c)) await new Promise((r) => child.stdin.once("drain", r));
    } finally {
      child.stdin.end();
    }
  })().catch(() => child.kill("SIGKILL"));
  let ok = false;
  try {
    for await (const c of child.stdout as AsyncIterable<Buffer>) yield c;
    await feed;
    const code = await exited;
    if (code !== 0) throw new PierError("InvalidArgument", `${program}: ${stderr.trim() || `exit ${code}`}`);
    ok = true;
  } finally {
    if (!ok) {
      child.kill("SIGKILL");
      await exited.catch(() => undefined);
    }
  }
}
