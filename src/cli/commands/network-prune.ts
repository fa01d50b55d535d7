/** `pier network prune`: custom networks no container uses. */
import { parseFilterFlags } from "../../api/client/index.ts";
import { bool, list, UsageError } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { fullIo } from "../context.ts";
import { confirm } from "../prompt.ts";

export const command: CommandDef = {
  name: "network prune",
  usage: "network prune [OPTIONS]",
  summary: "Remove all unused networks",
  maxArgs: 0,
  flags: [
    { name: "filter", kind: "list", help: 'Provide filter values (e.g. "until=<timestamp>")' },
    { name: "force", short: "f", kind: "bool", help: "Do not prompt for confirmation" },
  ],
  async run(cli, p) {
    let filters;
    try {
      filters = parseFilterFlags(list(p, "filter"));
    } catch (e) {
      throw new UsageError((e as Error).message, "pier network prune");
    }
    const warning = "WARNING! This will remove all custom networks not used by at least one container.";
    if (!bool(p, "force") && !(await confirm(fullIo(cli.io), warning))) return;
    const r = await (await cli.client()).networks.prune(filters);
    if (r.NetworksDeleted && r.NetworksDeleted.length > 0) {
      cli.io.out(`Deleted Networks:\n${r.NetworksDeleted.join("\n")}\n`);
    }
  },
};
