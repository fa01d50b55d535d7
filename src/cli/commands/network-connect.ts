/** `pier network connect NETWORK CONTAINER`: the endpoint config as docker sends it. */
import { list, str } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { kvMap } from "../opts/env.ts";
import { endpointSettings } from "../run-flags.ts";

export const command: CommandDef = {
  name: "network connect",
  usage: "network connect [OPTIONS] NETWORK CONTAINER",
  summary: "Connect a container to a network",
  minArgs: 2,
  maxArgs: 2,
  flags: [
    { name: "alias", kind: "list", help: "Add network-scoped alias for the container" },
    { name: "driver-opt", kind: "list", help: "driver options for the network" },
    { name: "ip", kind: "string", help: "IPv4 address (e.g., 172.30.100.104)" },
    { name: "ip6", kind: "string", help: "IPv6 address (e.g., 2001:db8::33)" },
    { name: "link", kind: "list", help: "Add link to another container" },
    { name: "link-local-ip", kind: "list", help: "Add a link-local address for the container" },
  ],
  async run(cli, p) {
    const [network, container] = p.positionals as [string, string];
    const ip = str(p, "ip");
    const ip6 = str(p, "ip6");
    const lla = list(p, "link-local-ip");
    const links = list(p, "link");
    const ep = endpointSettings({
      IPAMConfig: {
        ...(ip ? { IPv4Address: ip } : {}),
        ...(ip6 ? { IPv6Address: ip6 } : {}),
        ...(lla.length > 0 ? { LinkLocalIPs: lla } : {}),
      },
      ...(links.length > 0 ? { Links: links } : {}),
      Aliases: list(p, "alias"),
      DriverOpts: kvMap(list(p, "driver-opt")),
    });
    await (await cli.client()).networks.connect(network, { Container: container, EndpointConfig: ep });
  },
};
