/** `pier restart`: stop (as `stop` does) then start. */
import type { CommandDef } from "../context.ts";
import { forEachTarget } from "../multi.ts";
import { STOP_FLAGS, stopOptions } from "./stop.ts";

export const command: CommandDef = {
  name: "restart",
  usage: "restart [OPTIONS] CONTAINER [CONTAINER...]",
  summary: "Restart one or more containers",
  minArgs: 1,
  flags: STOP_FLAGS,
  async run(cli, p) {
    const opts = stopOptions(p, "pier restart");
    await forEachTarget(cli, p.positionals, (c, n) => c.containers.restart(n, opts));
  },
};
