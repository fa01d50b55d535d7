/**
 * The build context: a directory as the build sees it through .dockerignore.
 *
 * A path is visible when the ignore rules do not exclude it, or when it is a
 * directory holding something an exception (`!pattern`) brings back — such a
 * directory is listed so its re-included contents have a parent, as BuildKit
 * sends it. Nothing is followed: symlinks are entries like any other, and
 * the walk stays inside the root.
 *
 * Order is deterministic: depth first, a directory before its contents,
 * siblings by the bytes of their names (UTF-8), the same on every machine.
 *
 * Usage:
 *   const ctx = await BuildContext.open("/src/app");          // reads .dockerignore
 *   for (const e of await ctx.walk()) console.log(e.path, e.stat.mode.toString(8));
 */
import type { Stats } from "node:fs";
import { lstat, readdir, readlink, realpath } from "node:fs/promises";
import { join } from "node:path";
import { PierError, wrap } from "../common/errors.ts";
import { IgnoreMatcher, loadDockerignore } from "./dockerignore.ts";

export interface ContextEntry {
  /** Relative to the context root, `/`-separated. */
  path: string;
  /** lstat of the entry. */
  stat: Stats;
  /** A symlink's target, as stored. */
  linkTarget?: string;
}

/** Sorts names by their UTF-8 bytes. */
export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * A read-only directory tree addressed by relative `/`-separated paths
 * ("" is the root). The copy planner resolves sources through it.
 * Precondition of every method: the path's parent components are
 * directories already seen through this tree (never symlinks).
 */
export interface SourceTree {
  /** The absolute directory. */
  readonly root: string;
  /** What the tree is, for messages: "build context", "stage build", … */
  readonly description: string;
  /** lstat of a path, or undefined when it does not exist (or is hidden). */
  lstat(rel: string): Promise<Stats | undefined>;
  /** The visible names in a directory, in byte order. */
  readdir(rel: string): Promise<string[]>;
  readlink(rel: string): Promise<string>;
  /** Whether the path is hidden by ignore rules (for messages). */
  hidden?(rel: string): boolean;
}

const abs = (root: string, rel: string) => (rel === "" ? root : join(root, rel));

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw wrap(err, `lstat ${path}`);
  }
}

/** A plain directory: another stage's or an image's root filesystem. */
export class DirTree implements SourceTree {
  constructor(
    readonly root: string,
    readonly description = root,
  ) {}

  lstat(rel: string): Promise<Stats | undefined> {
    return lstatOrUndefined(abs(this.root, rel));
  }
  async readdir(rel: string): Promise<string[]> {
    try {
      return (await readdir(abs(this.root, rel))).sort(byteOrder);
    } catch (err) {
      throw wrap(err, `read directory ${abs(this.root, rel)}`);
    }
  }
  readlink(rel: string): Promise<string> {
    return readlink(abs(this.root, rel));
  }
}

export class BuildContext implements SourceTree {
  readonly description = "build context";
  private readonly dirVisible = new Map<string, boolean>();

  constructor(
    readonly root: string,
    readonly ignore: IgnoreMatcher = IgnoreMatcher.none,
  ) {}

  /**
   * The context at `dir` with its ignore file (`<dockerfile>.dockerignore`,
   * else `.dockerignore`).
   */
  static async open(
    dir: string,
    opts: { dockerfile?: string; ignore?: IgnoreMatcher } = {},
  ): Promise<BuildContext> {
    let root: string;
    try {
      root = await realpath(dir);
    } catch (err) {
      throw wrap(err, `build context ${dir}`);
    }
    const st = await lstat(root);
    if (!st.isDirectory()) {
      throw new PierError("InvalidArgument", `build context ${dir} is not a directory`, {
        hint: "give the directory holding the files the Dockerfile copies",
      });
    }
    const ignore = opts.ignore ?? (await loadDockerignore(root, opts.dockerfile));
    return new BuildContext(root, ignore);
  }

  hidden(rel: string): boolean {
    return rel !== "" && this.ignore.excludes(rel);
  }

  async lstat(rel: string): Promise<Stats | undefined> {
    const st = await lstatOrUndefined(abs(this.root, rel));
    if (!st) return undefined;
    return (await this.visible(rel, st)) ? st : undefined;
  }

  async readdir(rel: string): Promise<string[]> {
    return (await this.children(rel)).map((c) => c.name);
  }

  /** The visible entries of a directory with their lstat, in byte order. */
  private async children(rel: string): Promise<{ name: string; stat: Stats }[]> {
    let names: string[];
    try {
      names = await readdir(abs(this.root, rel));
    } catch (err) {
      throw wrap(err, `read directory ${abs(this.root, rel)}`);
    }
    names.sort(byteOrder);
    const stats = await Promise.all(
      names.map((n) => lstatOrUndefined(abs(this.root, rel === "" ? n : `${rel}/${n}`))),
    );
    const out: { name: string; stat: Stats }[] = [];
    for (const [i, name] of names.entries()) {
      const stat = stats[i];
      if (stat && (await this.visible(rel === "" ? name : `${rel}/${name}`, stat))) out.push({ name, stat });
    }
    return out;
  }

  readlink(rel: string): Promise<string> {
    return readlink(abs(this.root, rel));
  }

  /** Every visible entry (not the root itself), directories before their contents. */
  async walk(): Promise<ContextEntry[]> {
    const out: ContextEntry[] = [];
    const visit = async (dir: string): Promise<void> => {
      for (const { name, stat } of await this.children(dir)) {
        const rel = dir === "" ? name : `${dir}/${name}`;
        const e: ContextEntry = { path: rel, stat };
        if (stat.isSymbolicLink()) e.linkTarget = await this.readlink(rel);
        out.push(e);
        if (stat.isDirectory()) await visit(rel);
      }
    };
    await visit("");
    return out;
  }

  private async visible(rel: string, st: Stats): Promise<boolean> {
    if (!this.hidden(rel)) return true;
    if (!st.isDirectory() || !this.ignore.mayIncludeUnder(rel)) return false;
    const known = this.dirVisible.get(rel);
    if (known !== undefined) return known;
    let any = false;
    for (const name of await readdir(abs(this.root, rel))) {
      const child = `${rel}/${name}`;
      const cst = await lstatOrUndefined(abs(this.root, child));
      if (cst && (await this.visible(child, cst))) {
        any = true;
        break;
      }
    }
    this.dirVisible.set(rel, any);
    return any;
  }
}

/** Every file of `dir` the build can see through `ignore`, in a deterministic order. */
export async function walkContext(
  dir: string,
  ignore: IgnoreMatcher = IgnoreMatcher.none,
): Promise<ContextEntry[]> {
  return (await BuildContext.open(dir, { ignore })).walk();
}
