/**
 * `pier build [OPTIONS] PATH | -`: sends the context to pierd as a tar and
 * shows the build as it happens (docker's classic output with step times, or
 * BuildKit-style text with `--progress plain`); `-q` prints only the image ID.
 *
 * The context is a directory (PATH), a tar archive on stdin (`-`, plain or
 * compressed), or a Dockerfile alone on stdin (`-`). `-f` names the
 * Dockerfile (`-f -` reads it from stdin); one outside the context is added
 * to the tar. pierd applies .dockerignore (this client sends the directory
 * as it is). A failing RUN makes pier exit with the command's exit code, as
 * docker does.
 */
import { randomBytes } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, isAbsolute, join, relative, resolve, sep } from "node:path";
import { Readable } from "node:stream";
import { buildImage, type BuildImageOptions } from "../../api/client/build.ts";
import { invalid, notImplemented } from "../../common/errors.ts";
import { bool, boolOr, list, str, type Parsed } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { StatusError } from "../errors.ts";
import { header, packPath } from "../tar.ts";

const BLOCK = 512;

/** KEY=VALUE pairs; a bare KEY takes its value from the environment (or is left out). */
function pairs(
  values: string[],
  env: Record<string, string | undefined>,
  fromEnv: boolean,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf("=");
    if (eq === 0) throw invalid(`invalid argument "${v}": a name is required before =`);
    if (eq > 0) out[v.slice(0, eq)] = v.slice(eq + 1);
    else if (fromEnv && env[v] !== undefined) out[v] = env[v]!;
    else if (!fromEnv) out[v] = "";
  }
  return out;
}

function fileEntry(name: string, data: Buffer): Buffer[] {
  const h = header({
    name,
    type: "file",
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: data.length,
    mtime: Math.floor(Date.now() / 1000),
    linkname: "",
  });
  return [h, data, Buffer.alloc((BLOCK - (data.length % BLOCK)) % BLOCK)];
}

/** A directory's tar with extra files added at the top (packPath's end-of-archive held back). */
async function* dirWithExtras(dir: string, extras: [string, Buffer][]): AsyncGenerator<Buffer> {
  let held: Buffer | undefined;
  for await (const chunk of packPath(dir, "", { contentsOnly: true })) {
    if (held) yield held;
    held = chunk;
  }
  // `held` is the two zero blocks that end the archive.
  for (const [name, data] of extras) yield* fileEntry(name, data);
  yield Buffer.alloc(BLOCK * 2);
}

function isArchive(head: Buffer): boolean {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return true; // gzip
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return true; // zstd
  if (head.subarray(0, 3).toString("latin1") === "BZh") return true;
  if (head.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return true; // xz
  return head.length >= 262 && head.subarray(257, 262).toString("latin1") === "ustar";
}

interface Context {
  tar: Readable;
  dockerfile?: string;
}

async function readStdin(stdin: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stdin as AsyncIterable<Buffer>) parts.push(c);
  return Buffer.concat(parts);
}

/** The context tar and the Dockerfile's name in it. */
async function contextOf(
  path: string,
  file: string | undefined,
  stdin: Readable,
  cwd: string,
): Promise<Context> {
  if (/^(https?|git):\/\//.test(path) || /^git@/.test(path)) {
    throw notImplemented(
      `remote build contexts are not implemented: ${path}`,
      "clone or download it, then build the directory",
    );
  }
  if (path === "-") {
    if (file === "-")
      throw invalid("invalid argument: can't use stdin for both build context and dockerfile");
    const data = await readStdin(stdin);
    if (isArchive(data))
      return { tar: Readable.from([data]), ...(file !== undefined ? { dockerfile: file } : {}) };
    if (file !== undefined)
      throw invalid("a Dockerfile on stdin (build -) has no context for -f to name a file in");
    return { tar: Readable.from([...fileEntry("Dockerfile", data), Buffer.alloc(BLOCK * 2)]) };
  }
  const dir = resolve(cwd, path);
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw invalid(`unable to prepare context: path "${path}" not found`);
  }
  if (!st.isDirectory()) throw invalid(`unable to prepare context: context must be a directory: ${dir}`);
  if (file === undefined) return { tar: Readable.from(dirWithExtras(dir, [])) };
  // -f: inside the context it is named by its path there; else (or from stdin) it travels in the tar.
  let data: Buffer;
  let name: string;
  if (file === "-") {
    data = await readStdin(stdin);
    name = "Dockerfile";
  } else {
    const abs = resolve(cwd, file);
    const rel = relative(dir, abs);
    if (rel !== "" && !rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel)) {
      return { tar: Readable.from(dirWithExtras(dir, [])), dockerfile: rel.split(sep).join("/") };
    }
    try {
      data = readFileSync(abs);
    } catch {
      throw invalid(`unable to prepare context: the Dockerfile (${file}) cannot be read`);
    }
    name = basename(abs);
  }
  // A name the context does not use (docker uses .dockerfile.<random>).
  let exists = false;
  try {
    statSync(join(dir, name));
    exists = true;
  } catch {
    // free
  }
  if (exists) name = `.dockerfile.${randomBytes(10).toString("hex")}`;
  return { tar: Readable.from(dirWithExtras(dir, [[name, data]])), dockerfile: name };
}

function options(p: Parsed, env: Record<string, string | undefined>): BuildImageOptions {
  const progress = str(p, "progress") ?? "auto";
  if (!["auto", "tty", "plain", "quiet", "rawjson"].includes(progress))
    throw invalid(`invalid --progress value ${JSON.stringify(progress)}`, "use auto, tty, plain or quiet");
  if (progress === "rawjson") throw notImplemented("--progress rawjson is not implemented");
  if (!boolOr(p, "rm", true)) throw notImplemented("--rm=false: pier always removes intermediate containers");
  const o: BuildImageOptions = {
    tags: list(p, "tag"),
    buildArgs: pairs(list(p, "build-arg"), env, true),
    labels: pairs(list(p, "label"), env, false),
    noCache: bool(p, "no-cache"),
    pull: bool(p, "pull"),
    quiet: bool(p, "quiet") || progress === "quiet",
  };
  if (progress === "plain") o.progress = "plain";
  const target = str(p, "target");
  if (target) o.target = target;
  const network = str(p, "network");
  if (network) o.network = network;
  const platform = str(p, "platform");
  if (platform) o.platform = platform;
  return o;
}

export const command: CommandDef = {
  name: "build",
  usage: "build [OPTIONS] PATH | -",
  summary: "Build an image from a Dockerfile",
  minArgs: 1,
  maxArgs: 1,
  flags: [
    { name: "tag", short: "t", kind: "list", help: 'Name and optionally a tag in the "name:tag" format' },
    { name: "file", short: "f", kind: "string", help: 'Name of the Dockerfile (default: "PATH/Dockerfile")' },
    { name: "build-arg", kind: "list", help: "Set build-time variables" },
    { name: "label", kind: "list", help: "Set metadata for an image" },
    { name: "no-cache", kind: "bool", help: "Do not use cache when building the image" },
    { name: "pull", kind: "bool", help: "Always attempt to pull a newer version of the image" },
    {
      name: "quiet",
      short: "q",
      kind: "bool",
      help: "Suppress the build output and print image ID on success",
    },
    { name: "target", kind: "string", help: "Set the target build stage to build" },
    {
      name: "network",
      kind: "string",
      help: 'Set the networking mode for the RUN instructions (default "bridge")',
    },
    { name: "platform", kind: "string", help: "Set platform (only linux/amd64)" },
    {
      name: "progress",
      kind: "string",
      help: 'Type of progress output (auto, plain, quiet) (default "auto")',
    },
    { name: "iidfile", kind: "string", help: "Write the image ID to the file" },
    {
      name: "rm",
      kind: "bool",
      help: "Remove intermediate containers after a successful build (default true)",
    },
    { name: "force-rm", kind: "bool", help: "Always remove intermediate containers (always done)" },
  ],
  async run(cli, p) {
    const env = cli.io.env ?? process.env;
    const opts = options(p, env);
    const ctx = await contextOf(
      p.positionals[0]!,
      str(p, "file"),
      cli.io.stdin ?? process.stdin,
      cli.io.cwd ?? process.cwd(),
    );
    if (ctx.dockerfile !== undefined) opts.dockerfile = ctx.dockerfile;
    const client = await cli.client();
    let id: string | undefined;
    for await (const m of buildImage(client, ctx.tar, opts)) {
      if (m.errorDetail || m.error) {
        const message = m.errorDetail?.message ?? m.error ?? "the build failed";
        throw new StatusError(m.errorDetail?.code ?? 1, message);
      }
      if (m.aux && typeof m.aux.ID === "string") id = m.aux.ID;
      if (m.stream !== undefined) cli.io.out(m.stream);
      else if (m.status !== undefined && !opts.quiet && m.progressDetail?.current === undefined)
        cli.io.out(`${m.id !== undefined ? `${m.id}: ` : ""}${m.status}\n`);
    }
    if (id === undefined) throw new StatusError(1, "the daemon did not say which image it built");
    const iidfile = str(p, "iidfile");
    if (iidfile) writeFileSync(iidfile, id);
  },
};
