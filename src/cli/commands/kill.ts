/** `pier kill`: send a signal (KILL by default) to each container. */
import { str } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { forEachTarget } from "../multi.ts";

export const command: CommandDef = {
  name: "kill",
  usage: "kill [OPTIONS] CONTAINER [CONTAINER...]",
  summary: "Kill one or more running containers",
  minArgs: 1,
  flags: [{ name: "signal", short: "s", kind: "string", help: "Signal to send to the container" }],
  async run(cli, p) {
    const signal = str(p, "signal");
    await forEachTarget(cli, p.positionals, (c, n) => c.containers.kill(n, signal));
  },
};
