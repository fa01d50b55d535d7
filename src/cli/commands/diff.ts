/** `pier diff`: the writable layer's changes: `A` added, `C` changed, `D` deleted. */
import type { CommandDef } from "../context.ts";

const KIND = ["C", "A", "D"];

export const command: CommandDef = {
  name: "diff",
  usage: "diff CONTAINER",
  summary: "Inspect changes to files or directories on a container's filesystem",
  minArgs: 1,
  maxArgs: 1,
  flags: [],
  async run(cli, p) {
    const changes = await (await cli.client()).containers.changes(p.positionals[0]!);
    cli.io.out(changes.map((c) => `${KIND[c.Kind] ?? "?"} ${c.Path}\n`).join(""));
  },
};
