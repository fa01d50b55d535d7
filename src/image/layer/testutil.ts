/**
 * Test support for layer tests: a comparable description of a directory tree,
 * crafted archives, and a scratch area that is always cleaned up (mounts first).
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  chmodSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Fsops } from "../../snapshot/fsops.ts";
import { isMountPoint, unmount } from "../../snapshot/mount.ts";
import { encodeHeader, END_OF_ARCHIVE, padding, type HeaderInput } from "./tar.ts";

export interface TreeOptions {
  /** Leave out xattrs (archives made without them). */
  xattrs?: boolean;
  /** Leave out the root directory's own times (changed by any write into it). */
  rootTimes?: boolean;
}

/**
 * Every entry under `dir` (and the root as "."), described as one string:
 * type, mode, owner, mtime (whole seconds; not for directories' contents
 * changes when `rootTimes` is false for the root), content hash or link
 * target or device number, xattrs (not trusted.overlay.*), hard-link group.
 */
export async function describeTree(dir: string, opts: TreeOptions = {}): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const inodes = new Map<string, string>();
  const fsops = opts.xattrs === false ? undefined : Fsops.open({ root: dir });
  try {
    const visit = async (rel: string): Promise<void> => {
      const full = rel === "." ? dir : join(dir, rel);
      const st = await lstat(full, { bigint: true });
      const type = st.isDirectory()
        ? "dir"
        : st.isFile()
          ? "file"
          : st.isSymbolicLink()
            ? "symlink"
            : st.isCharacterDevice()
              ? "char"
              : st.isBlockDevice()
                ? "block"
                : st.isFIFO()
                  ? "fifo"
                  : "other";
      const parts = [type, (Number(st.mode) & 0o7777).toString(8), `${st.uid}:${st.gid}`];
      if (!(rel === "." && opts.rootTimes === false)) parts.push(`t=${st.mtimeNs / 1_000_000_000n}`);
      if (type === "file") {
        parts.push(
          `sha=${createHash("sha256")
            .update(await readFile(full))
            .digest("hex")
            .slice(0, 16)}`,
        );
      }
      if (type === "symlink") parts.push(`-> ${await readlink(full)}`);
      if (type === "char" || type === "block") parts.push(`dev=${st.rdev}`);
      if (fsops) {
        const x = await fsops.getxattrs(rel);
        const shown = [...x]
          .filter(([k]) => !k.startsWith("trusted.overlay."))
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([k, v]) => `${k}=${v.toString("hex")}`);
        if (shown.length) parts.push(`xattrs[${shown.join(",")}]`);
      }
      if (type !== "dir" && st.nlink > 1n) {
        const key = `${st.dev}:${st.ino}`;
        const first = inodes.get(key);
        if (first === undefined) inodes.set(key, rel);
        else parts.push(`hardlink-of=${first}`);
      }
      out[rel] = parts.join(" ");
      if (type === "dir") {
        const names = (await readdir(full)).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
        for (const n of names) await visit(rel === "." ? n : `${rel}/${n}`);
      }
    };
    await visit(".");
  } finally {
    await fsops?.close();
  }
  return out;
}

export type CraftedEntry = Omit<HeaderInput, "mode" | "mtime"> & {
  mode?: number;
  mtime?: number;
  body?: Buffer;
};

/** An archive of exactly these entries, unchecked: for hostile cases. */
export function craftTar(entries: CraftedEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const body = e.body ?? Buffer.alloc(0);
    const h: HeaderInput = {
      mode: 0o644,
      mtime: 1_700_000_000,
      ...e,
      size: e.type === "file" ? body.length : 0,
    };
    parts.push(encodeHeader(h));
    if (e.type === "file") parts.push(body, padding(body.length));
  }
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

export async function* chunksOf(data: Buffer, size = 4096): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

export async function* fileChunks(path: string): AsyncGenerator<Buffer> {
  yield* chunksOf(readFileSync(path), 65536);
}

/** A temporary directory for one test; `dispose` unmounts what is mounted beneath it, then removes it. */
export class Scratch {
  readonly dir: string;
  private readonly mounts: string[] = [];

  constructor(label: string) {
    this.dir = mkdtempSync(join(tmpdir(), `pier-${label}-`));
  }

  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  mkdir(...parts: string[]): string {
    const p = join(this.dir, ...parts);
    mkdirSync(p, { recursive: true });
    return p;
  }

  /** Records a mount point to undo in dispose. */
  mounted(target: string): string {
    this.mounts.push(target);
    return target;
  }

  async dispose(): Promise<void> {
    for (const m of this.mounts.reverse()) if (isMountPoint(m)) await unmount(m, { detach: true });
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** GNU tar of `dir`'s contents, as pier's tests make real layers. */
export function gnuTar(dir: string, out: string, extra: string[] = []): void {
  execFileSync("tar", ["--numeric-owner", "--sort=name", ...extra, "-C", dir, "-cf", out, "."]);
}

const T = (s: string) => execFileSync("date", ["-d", s, "+%s"], { encoding: "utf8" }).trim();

/** A tree with one of everything a layer can hold. */
export async function makeRichTree(root: string): Promise<void> {
  const sh = (cmd: string) => execFileSync("sh", ["-c", cmd], { cwd: root });
  mkdirSync(join(root, "etc"));
  writeFileSync(join(root, "etc/hosts"), "127.0.0.1 localhost\n");
  mkdirSync(join(root, "bin"));
  writeFileSync(join(root, "bin/tool"), randomBytes(300_000));
  chmodSync(join(root, "bin/tool"), 0o4755);
  linkSync(join(root, "bin/tool"), join(root, "bin/tool-link"));
  linkSync(join(root, "bin/tool"), join(root, "etc/tool-link2"));
  writeFileSync(join(root, "secret"), "s3cret");
  chmodSync(join(root, "secret"), 0o600);
  writeFileSync(join(root, "empty"), "");
  mkdirSync(join(root, "private"));
  writeFileSync(join(root, "private/x"), "x");
  chmodSync(join(root, "private"), 0o700);
  mkdirSync(join(root, "sticky"));
  chmodSync(join(root, "sticky"), 0o1777);
  symlinkSync("etc/hosts", join(root, "link-rel"));
  symlinkSync("/etc/hosts", join(root, "link-abs"));
  symlinkSync("nowhere", join(root, "link-dangling"));
  mkdirSync(join(root, "dev"));
  sh(
    "mknod dev/null c 1 3 && mknod dev/loop9 b 7 9 && chmod 0666 dev/null && mkdir run && mkfifo -m 0640 run/fifo",
  );
  const deep = join(root, "d".repeat(60), "e".repeat(60), "f".repeat(60));
  mkdirSync(deep, { recursive: true });
  writeFileSync(join(deep, "n".repeat(200)), "long");
  writeFileSync(join(root, "ünïcødé-ファイル"), "utf8");
  sh("chown 1234:5678 secret && chown -h 42:43 link-rel && chown 1000:1000 private private/x");
  await Fsops.with({ root }, async (f) => {
    await f.setxattr("etc/hosts", "user.pier", Buffer.from("hello"));
    await f.setxattr("private", "trusted.pier", Buffer.from([0, 1, 2, 255]));
    await f.setxattr("bin/tool", "security.capability", capability());
  });
  // Times last (children change their directories'); symlinks get theirs with touch -h.
  sh(`find . -exec touch -h -d @${T("2001-02-03 04:05:06")} {} +`);
  sh(`touch -h -d @${T("1999-12-31 23:59:59")} link-rel etc/hosts`);
}

/** security.capability v2 for cap_net_bind_service=ep. */
function capability(): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt32LE(0x02000001, 0); // VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE
  b.writeUInt32LE(1 << 10, 4); // permitted: CAP_NET_BIND_SERVICE
  return b;
}
