/** `pier load [-i FILE]`: an archive from a file or stdin; prints "Loaded image: …". */
import { createReadStream } from "node:fs";
import { invalid } from "../../common/errors.ts";
import { bool, str } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { renderProgress } from "../progress.ts";

export const command: CommandDef = {
  name: "load",
  usage: "load [OPTIONS]",
  summary: "Load an image from a tar archive or STDIN",
  maxArgs: 0,
  flags: [
    { name: "input", short: "i", kind: "string", help: "Read from tar archive file, instead of STDIN" },
    { name: "quiet", short: "q", kind: "bool", help: "Suppress the load output" },
  ],
  async run(cli, p) {
    const input = str(p, "input");
    if (input === undefined && process.stdin.isTTY) {
      throw invalid("requested load from stdin, but stdin is empty");
    }
    const src = input === undefined ? process.stdin : createReadStream(input);
    const client = await cli.client();
    const stream = client.loadImages(src, { quiet: bool(p, "quiet") || !cli.io.stdoutIsTTY });
    await renderProgress(stream, {
      write: (s) => cli.io.out(s),
      isTTY: cli.io.stdoutIsTTY,
      ...(process.stdout.columns ? { columns: process.stdout.columns } : {}),
    });
  },
};
