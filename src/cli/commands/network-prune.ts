/** `pier network prune`: custom networks no container uses. */
import type { CommandDef } from "../context.ts";
import { prunePrelude, pruneFlags } from "../prune.ts";

export const command: CommandDef = {
  name: "network prune",
  usage: "network prune [OPTIONS]",
  summary: "Remove all unused networks",
  maxArgs: 0,
  flags: pruneFlags("until=<timestamp>"),
  async run(cli, p) {
    const warning = "WARNING! This will remove all custom networks not used by at least one container.";
    const filters = await prunePrelude(cli, p, "pier network prune", warning);
    if (!filters) return;
    const r = await (await cli.client()).networks.prune(filters);
    if (r.NetworksDeleted && r.NetworksDeleted.length > 0) {
      cli.io.out(`Deleted Networks:\n${r.NetworksDeleted.join("\n")}\n`);
    }
  },
};
