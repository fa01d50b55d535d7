/**
 * The CNI configuration list of a pier bridge network, and its file on disk
 * (`<cniConfDir>/<cniName>.conflist`, written atomically). DEL after a restart
 * reads the file, so it always runs with the configuration ADD ran with.
 *
 *   bridge     the Linux bridge, the veth pair, the gateway address on the bridge,
 *              hairpin mode (a container reaches itself through a published port),
 *              ipMasq (masquerade what leaves the subnet; not on internal networks),
 *              host-local IPAM with its leases under pier's state directory
 *   portmap    published ports as DNAT rules; snat + route_localnet on the bridge so
 *              127.0.0.1:HOSTPORT works from the host (not on internal networks)
 *
 * pier does not use the firewall plugin: its own filter chain (see firewall.ts)
 * accepts the networks' traffic and isolates the networks from each other.
 */
import {
  existsSync,
  readFileSync,
  renameSync,
  writeFileSync,
  mkdirSync,
  rmSync,
  openSync,
  fsyncSync,
  closeSync,
} from "node:fs";
import { join } from "node:path";
import { CNI_VERSION, type NetConfList } from "./cni.ts";
import type { NetworkRecord } from "./types.ts";

export function buildConflist(n: NetworkRecord, ipamDir: string): NetConfList {
  const internal = n.internal;
  const bridge: Record<string, unknown> = {
    type: "bridge",
    bridge: n.bridge,
    isGateway: true,
    isDefaultGateway: !internal,
    ipMasq: !internal,
    hairpinMode: true,
    ipam: {
      type: "host-local",
      dataDir: ipamDir,
      ranges: [[{ subnet: n.subnet, gateway: n.gateway }]],
    },
  };
  if (n.mtu !== undefined) bridge.mtu = n.mtu;
  const plugins: NetConfList["plugins"] = [{ ...bridge, type: "bridge" }];
  if (!internal) plugins.push({ type: "portmap", capabilities: { portMappings: true }, snat: true });
  return { cniVersion: CNI_VERSION, name: n.cniName ?? n.id, plugins };
}

export function conflistPath(confDir: string, cniName: string): string {
  return join(confDir, `${cniName}.conflist`);
}

/** Writes the list to a temporary file, fsyncs it and renames it into place. */
export function writeConflist(confDir: string, list: NetConfList): string {
  mkdirSync(confDir, { recursive: true });
  const path = conflistPath(confDir, list.name);
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(list, null, 2) + "\n", { mode: 0o644 });
  const fd = openSync(tmp, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  return path;
}

export function readConflist(confDir: string, cniName: string): NetConfList | undefined {
  const path = conflistPath(confDir, cniName);
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, "utf8")) as NetConfList;
}

export function removeConflist(confDir: string, cniName: string): void {
  rmSync(conflistPath(confDir, cniName), { force: true });
}
