/**
 * Path resolution inside a tree, as if the tree were `/`: every symlink is
 * read and followed by hand, an absolute target restarts at the tree's root,
 * and `..` stops at the root — so nothing resolves outside it, whatever the
 * links say (what BuildKit's fs.RootPath does for COPY sources and
 * destinations).
 *
 * Usage:
 *   const r = await resolveInTree(tree, "app/current/config.json", true);
 *   if (r.found) console.log(r.path, r.stat.size);   // path relative to the tree root
 */
import type { Stats } from "node:fs";
import { PierError } from "../../common/errors.ts";
import type { SourceTree } from "../context.ts";

/** Linux's limit on symlinks followed while resolving one path. */
const MAX_LINKS = 40;

export type Resolved =
  | { found: true; path: string; stat: Stats }
  | { found: false; /** the first missing (or non-directory) component's path */ missing: string };

/** Splits into components, dropping empty and `.` ones. */
export function components(p: string): string[] {
  return p.split("/").filter((c) => c !== "" && c !== ".");
}

/**
 * Resolves `p` (relative to the tree root; a leading `/` means the root) in
 * `tree`. Symlinks in parent components are always followed; the last one
 * only when `followFinal`.
 */
export async function resolveInTree(tree: SourceTree, p: string, followFinal: boolean): Promise<Resolved> {
  let todo = components(p);
  const done: string[] = [];
  let links = 0;
  let stat = await tree.lstat("");
  if (!stat) return { found: false, missing: "" };
  while (todo.length > 0) {
    const c = todo.shift() as string;
    if (c === "..") {
      done.pop();
      stat = (await tree.lstat(done.join("/"))) as Stats;
      continue;
    }
    const rel = [...done, c].join("/");
    const st = await tree.lstat(rel);
    if (!st) return { found: false, missing: rel };
    if (st.isSymbolicLink() && (todo.length > 0 || followFinal)) {
      if (++links > MAX_LINKS) {
        throw new PierError("InvalidArgument", `${p}: too many levels of symbolic links`, {
          hint: "a symlink loop in the source tree",
        });
      }
      const target = await tree.readlink(rel);
      if (target.startsWith("/")) done.length = 0;
      todo = [...components(target), ...todo];
      stat = (await tree.lstat(done.join("/"))) as Stats;
      continue;
    }
    if (todo.length > 0 && !st.isDirectory()) return { found: false, missing: rel };
    done.push(c);
    stat = st;
  }
  return { found: true, path: done.join("/"), stat };
}
