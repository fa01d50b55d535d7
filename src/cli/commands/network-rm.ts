/**
 * `pier network rm NETWORK...`. docker looks each one up first (to warn about swarm
 * ingress networks) and goes on whatever the answer; so does pier.
 */
import type { CommandDef } from "../context.ts";
import { forEachTarget } from "../multi.ts";

export const command: CommandDef = {
  name: "network rm",
  usage: "network rm NETWORK [NETWORK...]",
  summary: "Remove one or more networks",
  minArgs: 1,
  flags: [{ name: "force", short: "f", kind: "bool", help: "Do not error if the network does not exist" }],
  async run(cli, p) {
    await forEachTarget(cli, p.positionals, async (c, n) => {
      await c.networks.inspect(n).catch(() => undefined);
      await c.networks.remove(n);
    });
  },
};
