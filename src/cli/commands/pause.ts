/** `pier pause`: freeze every process of each container (the cgroup freezer). */
import type { CommandDef } from "../context.ts";
import { forEachTarget } from "../multi.ts";

export const command: CommandDef = {
  name: "pause",
  usage: "pause CONTAINER [CONTAINER...]",
  summary: "Pause all processes within one or more containers",
  minArgs: 1,
  flags: [],
  async run(cli, p) {
    await forEachTarget(cli, p.positionals, (c, n) => c.containers.pause(n));
  },
};
