/** `pier restart`: stop (as `stop` does) then start. */
import { str } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { forEachTarget } from "../multi.ts";
import { intFlag } from "../flag-values.ts";

export const command: CommandDef = {
  name: "restart",
  usage: "restart [OPTIONS] CONTAINER [CONTAINER...]",
  summary: "Restart one or more containers",
  minArgs: 1,
  flags: [
    { name: "signal", short: "s", kind: "string", help: "Signal to send to the container" },
    {
      name: "timeout",
      short: "t",
      kind: "string",
      help: "Seconds to wait before killing the container",
      aliases: ["time"],
    },
  ],
  async run(cli, p) {
    const timeout = intFlag(p, "timeout", "-t, --timeout", "pier restart");
    const signal = str(p, "signal");
    await forEachTarget(cli, p.positionals, (c, n) =>
      c.containers.restart(n, {
        ...(timeout !== undefined ? { timeout } : {}),
        ...(signal ? { signal } : {}),
      }),
    );
  },
};
