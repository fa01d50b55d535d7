/** `pier image prune [-a] [-f]`. */
import { bool } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { humanSize } from "../units.ts";

export const command: CommandDef = {
  name: "image prune",
  usage: "image prune [OPTIONS]",
  summary: "Remove unused images",
  maxArgs: 0,
  flags: [
    { name: "all", short: "a", kind: "bool", help: "Remove all unused images, not just dangling ones" },
    { name: "force", short: "f", kind: "bool", help: "Do not prompt for confirmation" },
  ],
  async run(cli, p) {
    const r = await (await cli.client()).pruneImages({ all: bool(p, "all") });
    const items = r.ImagesDeleted ?? [];
    if (items.length > 0) {
      cli.io.out("Deleted Images:\n");
      for (const it of items)
        cli.io.out("Untagged" in it ? `untagged: ${it.Untagged}\n` : `deleted: ${it.Deleted}\n`);
      cli.io.out("\n");
    }
    cli.io.out(`Total reclaimed space: ${humanSize(r.SpaceReclaimed, 4)}\n`);
  },
};
