/** `pier container prune`: remove all stopped containers (asks first unless -f). */
import { bool, list, UsageError } from "../args.ts";
import { parseFilterFlags } from "../../api/client/index.ts";
import type { CommandDef } from "../context.ts";
import { fullIo } from "../context.ts";
import { confirm } from "../prompt.ts";
import { humanSize } from "../units.ts";

export const command: CommandDef = {
  name: "container prune",
  usage: "container prune [OPTIONS]",
  summary: "Remove all stopped containers",
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
      throw new UsageError((e as Error).message, "pier container prune");
    }
    if (
      !bool(p, "force") &&
      !(await confirm(fullIo(cli.io), "WARNING! This will remove all stopped containers."))
    ) {
      return;
    }
    const r = await (await cli.client()).containers.prune(filters);
    let out = "";
    if (r.ContainersDeleted && r.ContainersDeleted.length > 0) {
      out += `Deleted Containers:\n${r.ContainersDeleted.join("\n")}\n\n`;
    }
    cli.io.out(`${out}Total reclaimed space: ${humanSize(r.SpaceReclaimed ?? 0)}\n`);
  },
};
