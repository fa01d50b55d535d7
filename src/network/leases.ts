/**
 * The host-local IPAM plugin's store, read directly: `<dataDir>/<cniName>/<ip>`
 * holds "<containerId>\r\n<ifName>" for each allocated address, next to its
 * `lock` and `last_reserved_ip.0` files. pier points dataDir at its own state
 * directory, so these are all pier's.
 */
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { isIpv4 } from "./ipv4.ts";

export interface Lease {
  cniName: string;
  ip: string;
  containerId: string;
  ifName: string;
  path: string;
}

function entries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** The networks (CNI names) that have an IPAM directory. */
export function ipamNetworks(dataDir: string): string[] {
  return entries(dataDir);
}

export function listLeases(dataDir: string, cniName?: string): Lease[] {
  const out: Lease[] = [];
  for (const net of cniName === undefined ? entries(dataDir) : [cniName]) {
    for (const name of entries(join(dataDir, net))) {
      if (!isIpv4(name)) continue;
      const path = join(dataDir, net, name);
      let text: string;
      try {
        text = readFileSync(path, "utf8");
      } catch {
        continue; // released meanwhile
      }
      const [containerId = "", ifName = ""] = text.split(/\r?\n/).map((s) => s.trim());
      out.push({ cniName: net, ip: name, containerId, ifName, path });
    }
  }
  return out;
}

export function removeLease(path: string): void {
  rmSync(path, { force: true });
}

export function removeIpamDir(dataDir: string, cniName: string): void {
  rmSync(join(dataDir, cniName), { recursive: true, force: true });
}
