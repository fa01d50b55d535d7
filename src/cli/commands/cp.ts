/**
 * `pier cp`: files between a container and here, through the archive endpoints, with
 * docker's rules for where things land:
 *
 *   pier cp web:/etc/hosts .        GET /containers/web/archive?path=/etc/hosts → ./hosts
 *   pier cp web:/var/log logs       logs/ made from /var/log (or logs/log/ if logs exists)
 *   pier cp web:/var/log/. logs     the directory's contents into logs/
 *   pier cp ./app web:/srv/         HEAD /srv/ (exists? a directory?) → PUT a tar into it
 *   pier cp - web:/srv              a tar from stdin, extracted into /srv
 *   pier cp web:/etc -              the tar itself to stdout
 *
 * A source entry is renamed to the destination's name when the destination does not
 * exist yet (copy-as), and goes inside it when it is an existing directory (copy-into).
 */
import { existsSync, lstatSync, statSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { Readable } from "node:stream";
import { DaemonError, type ContainerPathStat } from "../../api/client/index.ts";
import { bool } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { fullIo } from "../context.ts";
import { StatusError } from "../errors.ts";
import { extractTar, packPath } from "../tar.ts";
import { humanSize } from "../units.ts";

const MODE_DIR = 2 ** 31;
const MODE_SYMLINK = 2 ** 27;
const isDirMode = (m: number) => Math.floor(m / MODE_DIR) % 2 === 1;
const isLinkMode = (m: number) => Math.floor(m / MODE_SYMLINK) % 2 === 1;

/** `CONTAINER:PATH` → [container, path]; a local path (no colon before the first slash) → [undefined, path]. */
export function splitCpArg(arg: string): [string | undefined, string] {
  if (arg.startsWith("/") || arg.startsWith(".")) return [undefined, arg];
  const colon = arg.indexOf(":");
  if (colon <= 0) return [undefined, arg];
  return [arg.slice(0, colon), arg.slice(colon + 1)];
}

/** "dir/." (contents of dir) */
const contentsOf = (p: string) => p === "." || p.endsWith("/.");
/** The name a path's last element has (`/a/b/` → b). */
const baseOf = (p: string) => basename(p.replace(/\/+\.?$/, "").replace(/\/+$/, "")) || "/";

/**
 * Where an entry named `top…` goes: into an existing directory it keeps its name; to a
 * path that does not exist it takes that path's name; contents-only copies drop the top.
 */
export function planCopy(
  src: { path: string; isDir: boolean },
  dst: { path: string; exists: boolean; isDir: boolean },
): { dir: string; rename: (name: string) => string | undefined } {
  const top = baseOf(src.path);
  const rebase = (to: string) => (name: string) => {
    if (name === top) return to;
    if (name.startsWith(`${top}/`)) return `${to}${name.slice(top.length)}`;
    return undefined;
  };
  if (dst.exists && dst.isDir) {
    if (src.isDir && contentsOf(src.path)) {
      return {
        dir: dst.path,
        rename: (n) => (n === top ? "." : n.startsWith(`${top}/`) ? n.slice(top.length + 1) : undefined),
      };
    }
    return { dir: dst.path, rename: rebase(top) };
  }
  if (dst.exists) {
    if (src.isDir) throw new StatusError(1, `cannot copy a directory to a file: ${dst.path}`);
    return { dir: dirname(dst.path), rename: rebase(baseOf(dst.path)) };
  }
  if (!src.isDir && dst.path.endsWith("/")) {
    throw new StatusError(1, `destination directory ${dst.path} does not exist`);
  }
  return { dir: dirname(dst.path.replace(/\/+$/, "")), rename: rebase(baseOf(dst.path)) };
}

export const command: CommandDef = {
  name: "cp",
  usage: "cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tpier cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
  summary: "Copy files/folders between a container and the local filesystem",
  minArgs: 2,
  maxArgs: 2,
  flags: [
    { name: "archive", short: "a", kind: "bool", help: "Archive mode (copy all uid/gid information)" },
    { name: "follow-link", short: "L", kind: "bool", help: "Always follow symbol link in SRC_PATH" },
    { name: "quiet", short: "q", kind: "bool", help: "Suppress progress output during copy" },
  ],
  async run(cli, p) {
    const io = fullIo(cli.io);
    const [srcC, srcPath] = splitCpArg(p.positionals[0]!);
    const [dstC, dstPath] = splitCpArg(p.positionals[1]!);
    if (srcC !== undefined && dstC !== undefined) {
      throw new StatusError(1, "copying between containers is not supported");
    }
    if (srcC === undefined && dstC === undefined) {
      throw new StatusError(1, "must specify at least one container source");
    }
    const client = await cli.client();
    const say = (bytes: number, to: string) => {
      if (!bool(p, "quiet") && io.stderrIsTTY) io.err(`Successfully copied ${humanSize(bytes)} to ${to}\n`);
    };

    if (srcC !== undefined) {
      // ---- container → here ------------------------------------------------------------
      let path = srcPath;
      if (bool(p, "follow-link")) {
        const st = await client.containers.statPath(srcC, path);
        if (isLinkMode(st.mode))
          path = st.linkTarget.startsWith("/") ? st.linkTarget : `${dirname(path)}/${st.linkTarget}`;
      }
      const { stat, body } = await client.containers.getArchive(srcC, path);
      let bytes = 0;
      const counted = (async function* () {
        for await (const c of body) {
          bytes += (c as Buffer).length;
          yield c as Buffer;
        }
      })();
      if (dstPath === "-") {
        for await (const c of counted) io.out(c);
        return;
      }
      const local = resolve(io.cwd, dstPath);
      let dst = { path: dstPath.endsWith("/") ? `${local}/` : local, exists: false, isDir: false };
      if (existsSync(local)) dst = { ...dst, exists: true, isDir: statSync(local).isDirectory() };
      else if (!existsSync(dirname(local))) throw new StatusError(1, `no such directory: ${dirname(local)}`);
      const plan = planCopy({ path, isDir: isDirMode(stat.mode) }, dst);
      await extractTar(counted, plan.dir, plan.rename);
      say(bytes, dstPath);
      return;
    }

    // ---- here → container --------------------------------------------------------------
    const container = dstC!;
    let dstStat: ContainerPathStat | undefined;
    let dstReal = dstPath;
    try {
      dstStat = await client.containers.statPath(container, dstPath);
      if (isLinkMode(dstStat.mode)) {
        const t = dstStat.linkTarget;
        dstReal = t.startsWith("/") ? t : `${dirname(dstPath)}/${t}`;
        dstStat = await client.containers.statPath(container, dstReal);
      }
    } catch (e) {
      if (!(e instanceof DaemonError && e.status === 404)) throw e;
      dstStat = undefined;
    }
    const copyUIDGID = bool(p, "archive");
    if (srcPath === "-") {
      if (!dstStat || !isDirMode(dstStat.mode)) {
        throw new StatusError(1, `destination "${container}:${dstPath}" must be a directory`);
      }
      await client.containers.putArchive(container, dstReal, io.stdin, { copyUIDGID });
      return;
    }
    const local = resolve(io.cwd, srcPath);
    let st;
    try {
      st = bool(p, "follow-link") ? statSync(local) : lstatSync(local);
    } catch {
      throw new StatusError(1, `lstat ${local}: no such file or directory`);
    }
    const plan = planCopy(
      { path: srcPath === "." || srcPath.endsWith("/.") ? `${local}/.` : local, isDir: st.isDirectory() },
      {
        path: dstReal,
        exists: dstStat !== undefined,
        isDir: dstStat !== undefined && isDirMode(dstStat.mode),
      },
    );
    // Pack under the name the plan gives the top entry ("." packs a directory's contents).
    const top = baseOf(local);
    const finalTop = plan.rename(top) ?? top;
    const follow = bool(p, "follow-link");
    const stream =
      finalTop === "."
        ? packPath(local, top, { contentsOnly: true, followTop: follow })
        : packPath(local, finalTop, { followTop: follow });
    let bytes = 0;
    const counted = (async function* () {
      for await (const c of stream) {
        bytes += c.length;
        yield c;
      }
    })();
    await client.containers.putArchive(container, plan.dir, Readable.from(counted), { copyUIDGID });
    say(bytes, `${container}:${dstPath}`);
  },
};
