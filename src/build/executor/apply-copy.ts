/**
 * Writes a COPY/ADD plan (copy/plan.ts) into a mounted root file system.
 *
 * Every destination is resolved inside the root (resolveInTree: symlinks are
 * followed as if the root were `/`, so an absolute link in the image never
 * leads onto the host). Files, directories and here-document files go where
 * their path resolves to (through a symlink already in the image, as
 * BuildKit does); symlinks, hard links and special files replace what is at
 * their own name. Owner, mode and the source's modification time are set on
 * each entry (times are clamped later, when the layer is archived). ADD's
 * archives are unpacked into a staging directory by the hostile-input-safe
 * layer unpacker, given the --chown owner if any, and copied in the same way.
 *
 * Usage:
 *   const plan = await planCopy({ instruction: "COPY", from: context, sources: ["www"], dest: "/www", target: dir });
 *   await applyCopy(plan, dir, scratchDir);
 */
import {
  chmodSync,
  copyFileSync,
  constants as FC,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
  type Stats,
} from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { join, posix } from "node:path";
import { PierError } from "../../common/errors.ts";
import { unpackLayer } from "../../image/layer/unpack.ts";
import { Fsops } from "../../snapshot/fsops.ts";
import { byteOrder, DirTree } from "../context.ts";
import { archiveStream } from "../copy/archive.ts";
import type { CopyEntry, CopyPlan } from "../copy/plan.ts";
import { resolveInTree } from "../copy/resolve.ts";

const S_IFIFO = 0o010000;
const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}

/** The absolute host path `dest` (absolute in the image) lands on, resolved inside `root`. */
async function placeOf(root: string, dest: string, followFinal: boolean): Promise<string> {
  const tree = new DirTree(root);
  if (followFinal) {
    const r = await resolveInTree(tree, dest, true);
    if (r.found) return r.path === "" ? root : join(root, r.path);
  }
  const parent = await resolveInTree(tree, posix.dirname(dest), true);
  if (!parent.found || !parent.stat.isDirectory()) {
    throw new PierError(
      "InvalidArgument",
      `cannot copy to ${dest}: ${posix.dirname(dest)} is not a directory`,
      {
        hint: "a file in the image is in the way of the destination path",
      },
    );
  }
  return join(root, parent.path, posix.basename(dest));
}

function setOwnerMode(path: string, e: CopyEntry, symlink = false): void {
  lchownSync(path, e.uid, e.gid);
  if (!symlink) chmodSync(path, e.mode); // after chown, which clears set-id bits
}

function clearFor(path: string, dest: string): void {
  const st = lstatOrUndefined(path);
  if (!st) return;
  if (st.isDirectory()) {
    throw new PierError("InvalidArgument", `cannot copy to ${dest}: it is a directory in the image`, {
      hint: "end the destination with / to copy into the directory",
    });
  }
  unlinkSync(path);
}

/** Applies `plan` to the root file system mounted at `root`; `scratch` holds ADD's staging dirs. */
export async function applyCopy(plan: CopyPlan, root: string, scratch: string): Promise<void> {
  const dirTimes: [string, number][] = [];
  for (const e of plan.entries) await applyEntry(e, root, scratch, dirTimes);
  // Directory times last: writing into a directory changes its mtime.
  for (const [path, ms] of dirTimes.reverse()) utimesSync(path, ms / 1000, ms / 1000);
}

async function applyEntry(
  e: CopyEntry,
  root: string,
  scratch: string,
  dirTimes: [string, number][],
): Promise<void> {
  switch (e.type) {
    case "dir": {
      const path = await placeOf(root, e.dest, true);
      const st = lstatOrUndefined(path);
      if (st?.isDirectory()) {
        if (e.implied) return;
      } else {
        if (st) unlinkSync(path);
        mkdirSync(path, { mode: e.mode });
      }
      setOwnerMode(path, e);
      if (e.mtimeMs !== undefined) dirTimes.push([path, e.mtimeMs]);
      return;
    }
    case "file":
    case "inline": {
      const path = await placeOf(root, e.dest, true);
      clearFor(path, e.dest);
      if (e.type === "file") copyFileSync(e.source as string, path, FC.COPYFILE_FICLONE);
      else writeFileSync(path, e.content ?? "");
      setOwnerMode(path, e);
      if (e.mtimeMs !== undefined) utimesSync(path, e.mtimeMs / 1000, e.mtimeMs / 1000);
      return;
    }
    case "symlink": {
      const path = await placeOf(root, e.dest, false);
      clearFor(path, e.dest);
      symlinkSync(e.linkTarget ?? "", path);
      lchownSync(path, e.uid, e.gid);
      if (e.mtimeMs !== undefined) lutimesSync(path, e.mtimeMs / 1000, e.mtimeMs / 1000);
      return;
    }
    case "hardlink": {
      const path = await placeOf(root, e.dest, false);
      const to = await placeOf(root, e.linkTo ?? "", false);
      clearFor(path, e.dest);
      linkSync(to, path);
      return;
    }
    case "fifo":
    case "char":
    case "block": {
      const path = await placeOf(root, e.dest, false);
      clearFor(path, e.dest);
      const kind = e.type === "fifo" ? S_IFIFO : e.type === "char" ? S_IFCHR : S_IFBLK;
      const rdev = e.rdev ?? 0;
      const major = ((rdev >> 8) & 0xfff) | ((rdev >>> 32) & ~0xfff);
      const minor = (rdev & 0xff) | ((rdev >> 12) & ~0xff);
      await Fsops.with({ root }, (f) => f.mknod(path.slice(root.length + 1), kind | e.mode, major, minor));
      setOwnerMode(path, e);
      return;
    }
    case "archive":
      await applyArchive(e, root, scratch, dirTimes);
      return;
  }
}

/** ADD of a local archive: unpacked aside, then copied in entry by entry. */
async function applyArchive(
  e: CopyEntry,
  root: string,
  scratch: string,
  dirTimes: [string, number][],
): Promise<void> {
  const staging = await mkdtemp(join(scratch, "add-"));
  try {
    await unpackLayer(archiveStream(e.source as string, e.compression ?? "none"), staging, {
      whiteouts: "apply",
      sameOwner: true,
      allowDevices: true,
    });
    const links = new Map<string, string>();
    const walk = async (rel: string): Promise<void> => {
      for (const name of readdirSync(join(staging, rel)).sort(byteOrder)) {
        const r = rel === "" ? name : `${rel}/${name}`;
        const full = join(staging, r);
        const st = lstatSync(full);
        const entry: CopyEntry = {
          type: st.isDirectory()
            ? "dir"
            : st.isFile()
              ? "file"
              : st.isSymbolicLink()
                ? "symlink"
                : st.isFIFO()
                  ? "fifo"
                  : st.isCharacterDevice()
                    ? "char"
                    : "block",
          source: full,
          dest: posix.join(e.dest, r),
          uid: e.chown ? e.uid : st.uid,
          gid: e.chown ? e.gid : st.gid,
          mode: st.mode & 0o7777,
          mtimeMs: st.mtimeMs,
        };
        if (st.isSocket()) continue;
        if (st.isSymbolicLink()) entry.linkTarget = readlinkSync(full);
        if (st.isCharacterDevice() || st.isBlockDevice()) entry.rdev = st.rdev;
        // Files linked to each other in the archive stay linked.
        const inode = `${st.dev}:${st.ino}`;
        const first = st.isFile() && st.nlink > 1 ? links.get(inode) : undefined;
        if (first !== undefined) Object.assign(entry, { type: "hardlink", linkTo: first });
        else if (st.isFile() && st.nlink > 1) links.set(inode, entry.dest);
        await applyEntry(entry, root, scratch, dirTimes);
        if (st.isDirectory()) await walk(r);
      }
    };
    // The destination directory itself (created 0755 when missing, as `implied`).
    await applyEntry(
      { type: "dir", dest: e.dest, uid: e.uid, gid: e.gid, mode: 0o755, implied: true },
      root,
      scratch,
      dirTimes,
    );
    await walk("");
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
