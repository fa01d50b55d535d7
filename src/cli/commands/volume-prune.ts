/** `pier volume prune`: anonymous volumes no container uses (-a: all unused). */
import { bool } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { prunePrelude, pruneFlags } from "../prune.ts";
import { humanSize } from "../units.ts";

export const command: CommandDef = {
  name: "volume prune",
  usage: "volume prune [OPTIONS]",
  summary: "Remove unused local volumes",
  maxArgs: 0,
  flags: [
    { name: "all", short: "a", kind: "bool", help: "Remove all unused volumes, not just anonymous ones" },
    ...pruneFlags("label=<label>"),
  ],
  async run(cli, p) {
    const all = bool(p, "all");
    const filters = await prunePrelude(
      cli,
      p,
      "pier volume prune",
      all
        ? "WARNING! This will remove all local volumes not used by at least one container."
        : "WARNING! This will remove anonymous local volumes not used by at least one container.",
    );
    if (!filters) return;
    if (all) filters.all = ["true"];
    const r = await (await cli.client()).volumes.prune(filters);
    let out = "";
    if (r.VolumesDeleted && r.VolumesDeleted.length > 0)
      out += `Deleted Volumes:\n${r.VolumesDeleted.join("\n")}\n\n`;
    cli.io.out(`${out}Total reclaimed space: ${humanSize(r.SpaceReclaimed ?? 0)}\n`);
  },
};
