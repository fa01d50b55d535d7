/**
 * The file-selection half of COPY and ADD: which files go where, with what
 * owner and mode. Nothing is written; the executor applies the plan.
 *
 * Sources (Docker's rules):
 * - Paths are relative to the source tree's root (a leading `/` too); one
 *   that climbs out of it (`../x`) is refused. Symlinks inside the tree are
 *   followed for the source path itself but can never lead out of the tree.
 * - Wildcards `*`, `?`, `[...]` (Go's filepath.Match, per path component,
 *   dot files included); a wildcard may match nothing, but the instruction
 *   must select something; a plain path must exist (files hidden by
 *   .dockerignore do not).
 * - A directory source copies its CONTENTS, recursively; symlinks inside it
 *   are copied as symlinks; files with several links in the copy stay
 *   hard-linked. Sockets are skipped.
 * - ADD extracts a local tar archive (plain, gzip, bzip2, xz, zstd) into the
 *   destination directory; URLs and git sources are not handled here.
 * - Here-document sources become files named after the here-document.
 * Destination:
 * - Relative to WORKDIR. It is a directory when it ends in `/` (or is `.`),
 *   or already is a directory in the image; then each source lands inside it
 *   under its own name. Several sources need a directory destination.
 * - Directories that must be created to hold the copy (the destination and
 *   its missing parents) appear as `implied` directories: mode 0755, owned
 *   by the --chown owner (else root); an existing directory is left as it is.
 * Ownership and mode:
 * - --chown sets every entry's owner; without it files from the build
 *   context belong to root (0:0) and files from another stage or image keep
 *   theirs. --chmod sets the mode of files and directories (not symlinks);
 *   without it the source's permission bits are kept.
 *
 * Usage:
 *   const ctx = await BuildContext.open("/src/app");
 *   const plan = await planCopy({ instruction: "COPY", from: ctx, sources: ["src/", "*.json"],
 *                                 dest: "app/", workdir: "/srv", target: rootfsDir, chown: "app" });
 *   for (const e of plan.entries) console.log(e.type, e.dest, e.mode.toString(8), e.uid, e.gid);
 */
import type { Stats } from "node:fs";
import { join, posix } from "node:path";
import { PierError } from "../../common/errors.ts";
import { BuildContext, DirTree, type SourceTree } from "../context.ts";
import { IgnoreMatcher } from "../dockerignore.ts";
import { cleanPath, globMatch, hasWildcards } from "../glob.ts";
import { detectArchive, type ArchiveCompression } from "./archive.ts";
import { parseChmod, resolveChown, type Owner } from "./owner.ts";
import { components, resolveInTree } from "./resolve.ts";

export type CopyEntryType =
  "dir" | "file" | "symlink" | "hardlink" | "fifo" | "char" | "block" | "inline" | "archive";

export interface CopyEntry {
  type: CopyEntryType;
  /** Absolute path of the source on this machine (not for inline files). */
  source?: string;
  /** Absolute path in the image; for "archive" the directory it is extracted into. */
  dest: string;
  uid: number;
  gid: number;
  /** Permission bits (0o7777). */
  mode: number;
  /** "dir": created only to hold the copy; applied only if the directory does not exist. */
  implied?: boolean;
  /** "file": size in bytes. */
  size?: number;
  /** The source's modification time (kept by the copy; not part of checksums). */
  mtimeMs?: number;
  /** "symlink": the link's target, as stored. */
  linkTarget?: string;
  /** "hardlink": the destination path of the entry it is a link to. */
  linkTo?: string;
  /** "char" and "block": the device number. */
  rdev?: number;
  /** "inline": the file's content. */
  content?: string;
  /** "archive": how the tar is compressed. "archive" entries keep the archive's owners unless --chown. */
  compression?: ArchiveCompression;
  /** "archive": whether --chown was given (then every extracted entry gets uid/gid). */
  chown?: boolean;
}

export interface CopyPlan {
  /** The destination, absolute and clean. */
  dest: string;
  /** Whether the destination is a directory (sources go inside it). */
  destIsDir: boolean;
  /** In order: every directory before what it holds. */
  entries: CopyEntry[];
}

export interface CopyPlanOptions {
  instruction: "COPY" | "ADD";
  /** Where sources come from: the build context, or another stage's or an image's root filesystem. */
  from: SourceTree;
  /** Source paths, variables already expanded. */
  sources: readonly string[];
  /** Here-document sources (name, content already expanded). */
  inline?: readonly { name: string; content: string }[];
  /** Destination, variables already expanded. */
  dest: string;
  /** The stage's working directory (default "/"). */
  workdir?: string;
  /** The root filesystem being built: for --chown names and to see which destinations are directories. */
  target?: string;
  chown?: string;
  chmod?: string;
  /** --exclude patterns (relative to each source). */
  excludes?: readonly string[];
  /** ADD: extract local archives (default true; always false for COPY). */
  unpack?: boolean;
  /** Keep the source files' owners when no --chown (default: true unless `from` is the build context). */
  keepOwners?: boolean;
  /** COPY --parents (not implemented: refused by name). */
  parents?: boolean;
  /** ADD --checksum (only for URL and git sources, which are not implemented here). */
  checksum?: string;
}

interface Selected {
  /** The name the source lands under inside a directory destination. */
  name: string;
  /** Its resolved path in the tree. */
  path: string;
  stat: Stats;
}

const fail = (instruction: string, msg: string, hint?: string) =>
  new PierError("InvalidArgument", `${instruction} failed: ${msg}`, hint === undefined ? {} : { hint });

function isRemote(src: string): "url" | "git" | undefined {
  if (/^https?:\/\//i.test(src)) return /\.git(#.*)?$/.test(src) ? "git" : "url";
  if (/^git@[^:]+:/.test(src) || /^git:\/\//.test(src)) return "git";
  return undefined;
}

export async function planCopy(opts: CopyPlanOptions): Promise<CopyPlan> {
  const ins = opts.instruction;
  const tree = opts.from;
  if (opts.parents === true) {
    throw new PierError("NotImplemented", "COPY --parents is not implemented", {
      hint: "copy each directory with its own COPY, naming the destination in full",
    });
  }
  if (opts.checksum !== undefined && opts.checksum !== "") {
    if (ins !== "ADD") throw fail(ins, "checksum can't be specified for COPY");
    if (opts.sources.length !== 1) throw fail(ins, "checksum can't be specified for multiple sources");
    if (!isRemote(opts.sources[0] as string)) throw fail(ins, "checksum requires HTTP(S) or Git sources");
  }
  const inContext = tree instanceof BuildContext;
  const keepOwners = opts.keepOwners ?? !inContext;
  const unpack = ins === "ADD" && (opts.unpack ?? true);
  const chmod = opts.chmod !== undefined && opts.chmod !== "" ? parseChmod(opts.chmod) : undefined;
  const owner: Owner | undefined =
    opts.chown !== undefined && opts.chown !== "" ? await resolveChown(opts.chown, opts.target) : undefined;
  const excludes = opts.excludes?.length ? IgnoreMatcher.create(opts.excludes, "--exclude") : undefined;

  // Destination.
  const rawDest = opts.dest;
  if (rawDest === "")
    throw fail(ins, "the destination is empty", `write it as ${ins} <source>... <destination>`);
  const workdir = opts.workdir || "/";
  const dest = cleanPath(rawDest.startsWith("/") ? rawDest : `${workdir}/${rawDest}`);
  let destIsDir = /(^|\/)\.{0,2}$/.test(rawDest);
  if (!destIsDir && opts.target !== undefined) {
    const r = await resolveInTree(new DirTree(opts.target), dest, true);
    destIsDir = r.found && r.stat.isDirectory();
  }

  // Sources.
  const selected: Selected[] = [];
  for (const src of opts.sources) {
    const remote = isRemote(src);
    if (remote && ins === "COPY") {
      throw fail(
        ins,
        `source can't be a URL for COPY: ${src}`,
        "use ADD for URLs, or download in a RUN step",
      );
    }
    if (remote) {
      throw new PierError(
        "NotImplemented",
        `ADD from a ${remote === "git" ? "git repository" : "URL"} is not implemented yet: ${src}`,
        {
          hint: "download it in a RUN step, or put the file in the build context",
        },
      );
    }
    const rel = cleanPath(src.replace(/^\/+/, ""));
    if (rel === ".." || rel.startsWith("../")) {
      throw fail(
        ins,
        `forbidden path outside the build context: ${src} (${rel})`,
        "sources are paths inside the build context",
      );
    }
    if (hasWildcards(rel)) {
      selected.push(...(await matchWildcards(tree, rel === "." ? "" : rel)));
      continue;
    }
    const r = await resolveInTree(tree, rel === "." ? "" : rel, true);
    if (!r.found) {
      const hidden = inContext && tree.hidden?.(rel) === true;
      throw fail(
        ins,
        inContext
          ? `file not found in build context or excluded by .dockerignore: stat ${src}: no such file or directory`
          : `file not found in ${tree.description}: stat ${src}: no such file or directory`,
        hidden ? `${src} is excluded by .dockerignore` : undefined,
      );
    }
    selected.push({ name: posix.basename(rel === "." ? "" : rel), path: r.path, stat: r.stat });
  }
  const inline = opts.inline ?? [];
  const count = selected.length + inline.length;
  if (count === 0) {
    throw fail(
      ins,
      `no source files were specified (nothing matches ${opts.sources.join(" ")})`,
      "check the wildcard patterns and .dockerignore",
    );
  }
  if (count > 1 && !destIsDir) {
    throw fail(
      ins,
      `When using ${ins} with more than one source file, the destination must be a directory and end with a /`,
      `write the destination as ${rawDest}/`,
    );
  }

  const entries: CopyEntry[] = [];
  const seenDirs = new Set<string>();
  const implied = (dir: string) => {
    const chain: string[] = [];
    for (let d = dir; d !== "/" && !seenDirs.has(d); d = posix.dirname(d)) chain.unshift(d);
    for (const d of chain) {
      seenDirs.add(d);
      entries.push({
        type: "dir",
        dest: d,
        mode: 0o755,
        uid: owner?.uid ?? 0,
        gid: owner?.gid ?? 0,
        implied: true,
      });
    }
  };
  const ownerOf = (st: Stats): Owner =>
    owner ?? (keepOwners ? { uid: st.uid, gid: st.gid } : { uid: 0, gid: 0 });
  const inodes = new Map<string, string>();

  const addEntry = async (path: string, st: Stats, to: string): Promise<void> => {
    const { uid, gid } = ownerOf(st);
    const base = { source: join(tree.root, path), dest: to, uid, gid, mtimeMs: st.mtimeMs };
    const mode = chmod ?? st.mode & 0o7777;
    if (st.isDirectory()) {
      seenDirs.add(to);
      entries.push({ ...base, type: "dir", mode });
    } else if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? inodes.get(key) : undefined;
      if (first !== undefined) {
        entries.push({ ...base, type: "hardlink", mode, linkTo: first });
      } else {
        if (st.nlink > 1) inodes.set(key, to);
        entries.push({ ...base, type: "file", mode, size: st.size });
      }
    } else if (st.isSymbolicLink()) {
      entries.push({ ...base, type: "symlink", mode: 0o777, linkTarget: await tree.readlink(path) });
    } else if (st.isFIFO()) {
      entries.push({ ...base, type: "fifo", mode });
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      entries.push({ ...base, type: st.isCharacterDevice() ? "char" : "block", mode, rdev: st.rdev });
    }
    // Sockets cannot be copied into an image; they are skipped.
  };

  /** A directory's contents, recursively, honouring --exclude (paths relative to the copied directory). */
  const addContents = async (dir: string, to: string, relBase: string): Promise<void> => {
    for (const name of await tree.readdir(dir)) {
      const path = dir === "" ? name : `${dir}/${name}`;
      const rel = relBase === "" ? name : `${relBase}/${name}`;
      const st = await tree.lstat(path);
      if (!st) continue;
      const target = to === "/" ? `/${name}` : `${to}/${name}`;
      if (excludes?.excludes(rel)) {
        if (!st.isDirectory() || !excludes.mayIncludeUnder(rel)) continue;
        const before = entries.length;
        await addContents(path, target, rel);
        if (entries.length > before) {
          const { uid, gid } = ownerOf(st);
          entries.splice(before, 0, {
            type: "dir",
            source: join(tree.root, path),
            dest: target,
            mode: chmod ?? st.mode & 0o7777,
            uid,
            gid,
            mtimeMs: st.mtimeMs,
          });
          seenDirs.add(target);
        }
        continue;
      }
      await addEntry(path, st, target);
      if (st.isDirectory()) await addContents(path, target, rel);
    }
  };

  for (const s of selected) {
    if (s.stat.isDirectory()) {
      implied(dest);
      await addContents(s.path, dest, "");
      continue;
    }
    if (excludes?.excludes(s.name)) continue;
    if (unpack && s.stat.isFile()) {
      const compression = await detectArchive(join(tree.root, s.path));
      if (compression !== undefined) {
        implied(dest);
        const { uid, gid } = ownerOf(s.stat);
        entries.push({
          type: "archive",
          source: join(tree.root, s.path),
          dest,
          uid,
          gid,
          mode: 0o755,
          compression,
          chown: owner !== undefined,
        });
        continue;
      }
    }
    const to = destIsDir ? posix.join(dest, s.name) : dest;
    implied(posix.dirname(to));
    await addEntry(s.path, s.stat, to);
  }

  for (const f of inline) {
    const name = cleanPath(f.name);
    if (name === "." || name === ".." || name.startsWith("../") || name.startsWith("/")) {
      throw fail(
        ins,
        `invalid here-document file name ${JSON.stringify(f.name)}`,
        "name the here-document like a file, e.g. <<app.conf",
      );
    }
    const to = destIsDir ? posix.join(dest, name) : dest;
    implied(posix.dirname(to));
    entries.push({
      type: "inline",
      dest: to,
      uid: owner?.uid ?? 0,
      gid: owner?.gid ?? 0,
      mode: chmod ?? 0o644,
      content: f.content,
      size: Buffer.byteLength(f.content),
    });
  }

  return { dest, destIsDir, entries };
}

/**
 * Wildcard sources: the part before the first component with a wildcard is a
 * directory (symlinks followed); each further component is matched against
 * the names in it. Matches come in name order; directories matched early are
 * not descended into.
 */
async function matchWildcards(tree: SourceTree, rel: string): Promise<Selected[]> {
  const parts = components(rel);
  const firstWild = parts.findIndex((p) => hasWildcards(p));
  const base = parts.slice(0, firstWild);
  const patterns = parts.slice(firstWild);
  const r = await resolveInTree(tree, base.join("/"), true);
  if (!r.found || !r.stat.isDirectory()) return [];
  const out: Selected[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    const pattern = patterns[depth] as string;
    for (const name of await tree.readdir(dir)) {
      if (!globMatch(pattern, name)) continue;
      const path = dir === "" ? name : `${dir}/${name}`;
      const st = await tree.lstat(path);
      if (!st) continue;
      if (depth === patterns.length - 1) {
        // The match itself is followed if it is a symlink (inside the tree).
        const followed = st.isSymbolicLink() ? await resolveInTree(tree, path, true) : undefined;
        if (followed && !followed.found) continue;
        out.push(
          followed?.found ? { name, path: followed.path, stat: followed.stat } : { name, path, stat: st },
        );
      } else if (st.isDirectory()) {
        await walk(path, depth + 1);
      }
    }
  };
  await walk(r.path, 0);
  return out;
}
