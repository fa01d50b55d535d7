/** `pier push NAME[:TAG]`: the name goes fully normalized into the path, as docker sends it. */
import { parseReference } from "../../api/client/index.ts";
import { bool } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { registryAuthHeader } from "../credentials.ts";
import { renderProgress } from "../progress.ts";

export const command: CommandDef = {
  name: "push",
  usage: "push [OPTIONS] NAME[:TAG]",
  summary: "Upload an image to a registry",
  minArgs: 1,
  maxArgs: 1,
  flags: [
    { name: "all-tags", short: "a", kind: "bool", help: "Push all tags of an image to the repository" },
    { name: "quiet", short: "q", kind: "bool", help: "Suppress verbose output" },
  ],
  async run(cli, p) {
    const r = parseReference(p.positionals[0]!);
    const repo = `${r.domain}/${r.path}`;
    const tag = bool(p, "all-tags") ? undefined : (r.tag ?? "latest");
    const quiet = bool(p, "quiet");
    const auth = registryAuthHeader(r.domain);
    await renderProgress((await cli.client()).pushImage(repo, tag, auth ? { auth } : {}), {
      write: (s) => {
        if (!quiet) cli.io.out(s);
      },
      isTTY: cli.io.stdoutIsTTY,
      ...(process.stdout.columns ? { columns: process.stdout.columns } : {}),
    });
    if (quiet) cli.io.out(`${repo}:${tag ?? "latest"}\n`);
  },
};
