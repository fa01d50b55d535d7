/** `pier network disconnect [-f] NETWORK CONTAINER`. */
import { bool } from "../args.ts";
import type { CommandDef } from "../context.ts";

export const command: CommandDef = {
  name: "network disconnect",
  usage: "network disconnect [OPTIONS] NETWORK CONTAINER",
  summary: "Disconnect a container from a network",
  minArgs: 2,
  maxArgs: 2,
  flags: [
    { name: "force", short: "f", kind: "bool", help: "Force the container to disconnect from a network" },
  ],
  async run(cli, p) {
    const [network, container] = p.positionals as [string, string];
    await (
      await cli.client()
    ).networks.disconnect(network, { Container: container, Force: bool(p, "force") });
  },
};
