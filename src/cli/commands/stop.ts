/** `pier stop`: SIGTERM (or -s), then SIGKILL after -t seconds (the container's StopTimeout by default). */
import { str, type FlagSpec, type Parsed } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { forEachTarget } from "../multi.ts";
import { intFlag } from "../flag-values.ts";

/** The flags `stop` and `restart` share. */
export const STOP_FLAGS: FlagSpec[] = [
  { name: "signal", short: "s", kind: "string", help: "Signal to send to the container" },
  {
    name: "timeout",
    short: "t",
    kind: "string",
    help: "Seconds to wait before killing the container",
    aliases: ["time"],
  },
];

/** `-t` and `-s` as the API's stop/restart options. */
export function stopOptions(p: Parsed, command: string): { timeout?: number; signal?: string } {
  const timeout = intFlag(p, "timeout", "-t, --timeout", command);
  const signal = str(p, "signal");
  return { ...(timeout !== undefined ? { timeout } : {}), ...(signal ? { signal } : {}) };
}

export const command: CommandDef = {
  name: "stop",
  usage: "stop [OPTIONS] CONTAINER [CONTAINER...]",
  summary: "Stop one or more running containers",
  minArgs: 1,
  flags: STOP_FLAGS,
  async run(cli, p) {
    const opts = stopOptions(p, "pier stop");
    await forEachTarget(cli, p.positionals, (c, n) => c.containers.stop(n, opts));
  },
};
