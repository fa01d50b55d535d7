/** The engine's view of the network layer (src/network), over a NetworkManager. */
import type { NetworkManager } from "../../network/index.ts";
import type { NetworkPlugin } from "./engine.ts";

export function networkPlugin(mgr: NetworkManager): NetworkPlugin {
  return {
    async resolve(name) {
      const n = await mgr.inspect(name);
      return { id: n.id, name: n.name, dns: n.dns };
    },
    async attach(o) {
      const r = await mgr.attach({
        network: o.network,
        containerId: o.containerId,
        containerName: o.containerName,
        netnsPath: o.netnsPath,
        ifName: o.ifName,
        aliases: o.aliases,
        portMappings: o.portMappings,
        ...(o.ip ? { ip: o.ip } : {}),
      });
      return { ip: r.ip, prefixLen: r.prefixLen, gateway: r.gateway, mac: r.mac, networkId: r.networkId };
    },
    detach: (o) =>
      mgr.detach({
        network: o.network,
        containerId: o.containerId,
        ...(o.netnsPath ? { netnsPath: o.netnsPath } : {}),
      }),
    resolvConf: (network) => mgr.resolvConfFor(network),
  };
}
