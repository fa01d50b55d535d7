/** `pier container prune`: remove all stopped containers (asks first unless -f). */
import type { CommandDef } from "../context.ts";
import { prunePrelude, pruneFlags } from "../prune.ts";
import { humanSize } from "../units.ts";

export const command: CommandDef = {
  name: "container prune",
  usage: "container prune [OPTIONS]",
  summary: "Remove all stopped containers",
  maxArgs: 0,
  flags: pruneFlags("until=<timestamp>"),
  async run(cli, p) {
    const filters = await prunePrelude(
      cli,
      p,
      "pier container prune",
      "WARNING! This will remove all stopped containers.",
    );
    if (!filters) return;
    const r = await (await cli.client()).containers.prune(filters);
    let out = "";
    if (r.ContainersDeleted && r.ContainersDeleted.length > 0) {
      out += `Deleted Containers:\n${r.ContainersDeleted.join("\n")}\n\n`;
    }
    cli.io.out(`${out}Total reclaimed space: ${humanSize(r.SpaceReclaimed ?? 0)}\n`);
  },
};
