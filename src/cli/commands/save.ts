/** `pier save [-o FILE] IMAGE...`: the archive to a file (written to a temp name, then renamed) or stdout. */
import { createWriteStream, renameSync, rmSync } from "node:fs";
import { pipeline } from "node:stream/promises";
import { invalid } from "../../common/errors.ts";
import { str } from "../args.ts";
import type { CommandDef } from "../context.ts";

export const command: CommandDef = {
  name: "save",
  usage: "save [OPTIONS] IMAGE [IMAGE...]",
  summary: "Save one or more images to a tar archive (streamed to STDOUT by default)",
  minArgs: 1,
  flags: [
    { name: "output", short: "o", kind: "string", help: "Write to a file, instead of STDOUT" },
    {
      name: "format",
      kind: "string",
      help: 'Archive format: "docker-archive" (default) or "oci" (OCI image layout)',
    },
  ],
  async run(cli, p) {
    const output = str(p, "output");
    if (output === undefined && cli.io.stdoutIsTTY) {
      throw invalid("cowardly refusing to save to a terminal. Use the -o flag or redirect");
    }
    const format = str(p, "format");
    if (format !== undefined && format !== "oci" && format !== "docker-archive")
      throw invalid(`unknown format ${format}: "docker-archive" or "oci"`);
    const body = await (await cli.client()).saveImages(p.positionals, format === "oci" ? { format } : {});
    if (output === undefined) {
      await pipeline(body, process.stdout);
      return;
    }
    const tmp = `${output}.pier-tmp-${process.pid}`;
    try {
      await pipeline(body, createWriteStream(tmp));
      renameSync(tmp, output);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
  },
};
