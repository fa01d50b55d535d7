/** `pier volume prune`: anonymous volumes no container uses (-a: all unused). */
import { parseFilterFlags } from "../../api/client/index.ts";
import { bool, list, UsageError } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { fullIo } from "../context.ts";
import { confirm } from "../prompt.ts";
import { humanSize } from "../units.ts";

export const command: CommandDef = {
  name: "volume prune",
  usage: "volume prune [OPTIONS]",
  summary: "Remove unused local volumes",
  maxArgs: 0,
  flags: [
    { name: "all", short: "a", kind: "bool", help: "Remove all unused volumes, not just anonymous ones" },
    { name: "filter", kind: "list", help: 'Provide filter values (e.g. "label=<label>")' },
    { name: "force", short: "f", kind: "bool", help: "Do not prompt for confirmation" },
  ],
  async run(cli, p) {
    let filters;
    try {
      filters = parseFilterFlags(list(p, "filter"));
    } catch (e) {
      throw new UsageError((e as Error).message, "pier volume prune");
    }
    const all = bool(p, "all");
    if (all) filters.all = ["true"];
    const warning = all
      ? "WARNING! This will remove all local volumes not used by at least one container."
      : "WARNING! This will remove anonymous local volumes not used by at least one container.";
    if (!bool(p, "force") && !(await confirm(fullIo(cli.io), warning))) return;
    const r = await (await cli.client()).volumes.prune(filters);
    let out = "";
    if (r.VolumesDeleted && r.VolumesDeleted.length > 0)
      out += `Deleted Volumes:\n${r.VolumesDeleted.join("\n")}\n\n`;
    cli.io.out(`${out}Total reclaimed space: ${humanSize(r.SpaceReclaimed ?? 0)}\n`);
  },
};
