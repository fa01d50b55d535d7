/** `pier volume rm [-f] VOLUME...`. */
import { bool } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { forEachTarget } from "../multi.ts";

export const command: CommandDef = {
  name: "volume rm",
  usage: "volume rm [OPTIONS] VOLUME [VOLUME...]",
  summary: "Remove one or more volumes",
  minArgs: 1,
  flags: [{ name: "force", short: "f", kind: "bool", help: "Force the removal of one or more volumes" }],
  async run(cli, p) {
    const force = bool(p, "force");
    await forEachTarget(cli, p.positionals, (c, n) => c.volumes.remove(n, { force }));
  },
};
