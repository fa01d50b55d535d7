/** `pier network rm NETWORK...`: looks each one up first, as docker does, then removes it. */
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
      const net = await c.networks.inspect(n);
      await c.networks.remove(net.Id || n);
    });
  },
};
