/** `pier stop`: SIGTERM (or -s), then SIGKILL after -t seconds (the container's StopTimeout by default). */
import { str } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { forEachTarget } from "../multi.ts";
import { intFlag } from "../flag-values.ts";

export const command: CommandDef = {
  name: "stop",
  usage: "stop [OPTIONS] CONTAINER [CONTAINER...]",
  summary: "Stop one or more running containers",
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
    const timeout = intFlag(p, "timeout", "-t, --timeout", "pier stop");
    const signal = str(p, "signal");
    await forEachTarget(cli, p.positionals, (c, n) =>
      c.containers.stop(n, { ...(timeout !== undefined ? { timeout } : {}), ...(signal ? { signal } : {}) }),
    );
  },
};
