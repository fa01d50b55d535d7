/** `pier network create`: docker's request body (IPAM from --subnet/--gateway/--ip-range/--aux-address); prints the id. */
import type { IPAMConfig, NetworkCreateRequest } from "../../api/client/index.ts";
import { bool, list, str, UsageError } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { kvMap } from "../opts/env.ts";

/** Pairs each --subnet with the gateway, range and aux addresses that fall in it (docker's consolidateIpam). */
export function ipamConfigs(
  subnets: string[],
  ranges: string[],
  gateways: string[],
  aux: string[],
): IPAMConfig[] {
  if (subnets.length < ranges.length || subnets.length < gateways.length) {
    throw new UsageError("every ip-range or gateway must have a corresponding subnet", "pier network create");
  }
  const inSubnet = (subnet: string, ip: string) => {
    const [base, bitsText] = subnet.split("/") as [string, string | undefined];
    const bits = Number(bitsText ?? 32);
    const toInt = (a: string) => a.split(".").reduce((n, o) => n * 256 + Number(o), 0);
    if (!base.includes(".") || !ip.includes(".")) return subnets.length === 1;
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    return (toInt(base) & mask) >>> 0 === (toInt(ip.split("/")[0]!) & mask) >>> 0;
  };
  return subnets.map((subnet) => {
    const c: IPAMConfig = { Subnet: subnet };
    const range = ranges.find((r) => inSubnet(subnet, r));
    if (range) c.IPRange = range;
    const gw = gateways.find((g) => inSubnet(subnet, g));
    if (gw) c.Gateway = gw;
    const auxMap: Record<string, string> = {};
    for (const [k, v] of Object.entries(kvMap(aux))) if (inSubnet(subnet, v)) auxMap[k] = v;
    if (Object.keys(auxMap).length > 0) c.AuxiliaryAddresses = auxMap;
    return c;
  });
}

export const command: CommandDef = {
  name: "network create",
  usage: "network create [OPTIONS] NETWORK",
  summary: "Create a network",
  minArgs: 1,
  maxArgs: 1,
  flags: [
    { name: "attachable", kind: "bool", help: "Enable manual container attachment" },
    { name: "aux-address", kind: "list", help: "Auxiliary IPv4 or IPv6 addresses used by Network driver" },
    { name: "config-from", kind: "string", help: "The network from which to copy the configuration" },
    { name: "config-only", kind: "bool", help: "Create a configuration only network" },
    { name: "driver", short: "d", kind: "string", help: 'Driver to manage the Network (default "bridge")' },
    { name: "gateway", kind: "list", help: "IPv4 or IPv6 Gateway for the master subnet" },
    { name: "ingress", kind: "bool", help: "Create swarm routing-mesh network" },
    { name: "internal", kind: "bool", help: "Restrict external access to the network" },
    { name: "ip-range", kind: "list", help: "Allocate container ip from a sub-range" },
    { name: "ipam-driver", kind: "string", help: 'IP Address Management Driver (default "default")' },
    { name: "ipam-opt", kind: "list", help: "Set IPAM driver specific options" },
    { name: "ipv6", kind: "bool", help: "Enable or disable IPv6 networking" },
    { name: "label", kind: "list", help: "Set metadata on a network" },
    { name: "opt", short: "o", kind: "list", help: "Set driver specific options" },
    { name: "scope", kind: "string", help: "Control the network's scope" },
    { name: "subnet", kind: "list", help: "Subnet in CIDR format that represents a network segment" },
  ],
  async run(cli, p) {
    const configFrom = str(p, "config-from");
    const body: NetworkCreateRequest = {
      Driver: str(p, "driver") ?? "bridge",
      Scope: str(p, "scope") ?? "",
      ...(p.flags.has("ipv6") ? { EnableIPv6: bool(p, "ipv6") } : {}),
      IPAM: {
        Driver: str(p, "ipam-driver") ?? "default",
        Options: kvMap(list(p, "ipam-opt")),
        Config: ipamConfigs(
          list(p, "subnet"),
          list(p, "ip-range"),
          list(p, "gateway"),
          list(p, "aux-address"),
        ),
      },
      Internal: bool(p, "internal"),
      Attachable: bool(p, "attachable"),
      Ingress: bool(p, "ingress"),
      ConfigOnly: bool(p, "config-only"),
      ConfigFrom: configFrom ? { Network: configFrom } : null,
      Options: kvMap(list(p, "opt")),
      Labels: kvMap(list(p, "label")),
      Name: p.positionals[0]!,
      CheckDuplicate: true,
    };
    const r = await (await cli.client()).networks.create(body);
    if (r.Warning) cli.io.err(`${r.Warning}\n`);
    cli.io.out(`${r.Id}\n`);
  },
};
