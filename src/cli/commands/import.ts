/**
 * `pier import FILE|DIR|- [REPOSITORY[:TAG]]`: a one-layer image from a rootfs tarball
 * (sent as is) or a directory (tarred here with the system's tar, numeric owners).
 */
import { spawn } from "node:child_process";
import { createReadStream, statSync } from "node:fs";
import type { Readable } from "node:stream";
import { invalid } from "../../common/errors.ts";
import { list, str } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { splitRepoTag } from "./tag.ts";

function source(path: string): { tar: Readable; done: Promise<void> } {
  if (path === "-") return { tar: process.stdin, done: Promise.resolve() };
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch {
    throw invalid(`open ${path}: no such file or directory`);
  }
  if (!isDir) return { tar: createReadStream(path), done: Promise.resolve() };
  const child = spawn("tar", ["-C", path, "--numeric-owner", "--xattrs", "-cf", "-", "."], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let errText = "";
  child.stderr.on("data", (c: Buffer) => (errText += c.toString()));
  const done = new Promise<void>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(invalid(`tar ${path}: ${errText.trim() || `exit ${code}`}`)),
    );
  });
  return { tar: child.stdout, done };
}

export const command: CommandDef = {
  name: "import",
  usage: "import [OPTIONS] file|DIR|- [REPOSITORY[:TAG]]",
  summary: "Import the contents from a tarball or directory to create a filesystem image",
  minArgs: 1,
  maxArgs: 2,
  flags: [
    { name: "change", short: "c", kind: "list", help: "Apply Dockerfile instruction to the created image" },
    { name: "message", short: "m", kind: "string", help: "Set commit message for imported image" },
  ],
  async run(cli, p) {
    const target = p.positionals[1];
    const [repo, tag] = target !== undefined ? splitRepoTag(target) : [undefined, undefined];
    const message = str(p, "message");
    const client = await cli.client();
    const { tar, done } = source(p.positionals[0]!);
    let id: string | undefined;
    for await (const m of client.importImage(tar, {
      ...(repo !== undefined ? { repo } : {}),
      ...(tag !== undefined ? { tag } : {}),
      changes: list(p, "change"),
      ...(message !== undefined ? { message } : {}),
    })) {
      if (m.error) throw invalid(m.error);
      if (m.status) id = m.status;
    }
    await done;
    if (id !== undefined) cli.io.out(`${id}\n`);
  },
};
