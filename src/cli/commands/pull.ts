/** `pier pull NAME[:TAG|@DIGEST]`: a progress line per layer, then the full name. */
import { parseReference } from "../../api/client/index.ts";
import { bool, str } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { registryAuthHeader } from "../credentials.ts";
import { renderProgress } from "../progress.ts";

export const command: CommandDef = {
  name: "pull",
  usage: "pull [OPTIONS] NAME[:TAG|@DIGEST]",
  summary: "Download an image from a registry",
  minArgs: 1,
  maxArgs: 1,
  flags: [
    { name: "all-tags", short: "a", kind: "bool", help: "Download all tagged images in the repository" },
    { name: "platform", kind: "string", help: "Set platform if server is multi-platform capable" },
    { name: "quiet", short: "q", kind: "bool", help: "Suppress verbose output" },
  ],
  async run(cli, p) {
    const r = parseReference(p.positionals[0]!);
    const repo = `${r.domain}/${r.path}`;
    const tag = r.digest ?? r.tag ?? "latest";
    const platform = str(p, "platform");
    const auth = registryAuthHeader(r.domain);
    const stream = (await cli.client()).pullImage(repo, tag, {
      ...(platform ? { platform } : {}),
      ...(auth ? { auth } : {}),
    });
    const quiet = bool(p, "quiet");
    await renderProgress(stream, {
      write: (s) => {
        if (!quiet) cli.io.out(s);
      },
      isTTY: cli.io.stdoutIsTTY,
      ...(process.stdout.columns ? { columns: process.stdout.columns } : {}),
    });
    cli.io.out(`${repo}${r.digest ? "@" : ":"}${tag}\n`);
  },
};
