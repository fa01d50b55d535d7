/** `pier unpause`: thaw each paused container. */
import type { CommandDef } from "../context.ts";
import { forEachTarget } from "../multi.ts";

export const command: CommandDef = {
  name: "unpause",
  usage: "unpause CONTAINER [CONTAINER...]",
  summary: "Unpause all processes within one or more containers",
  minArgs: 1,
  flags: [],
  async run(cli, p) {
    await forEachTarget(cli, p.positionals, (c, n) => c.containers.unpause(n));
  },
};
