/**
 * Choosing and checking a network's subnet: it may overlap neither another
 * pier network nor a route of the host (a LAN, a VPN, another container
 * engine's bridge), or containers could not reach those addresses.
 */
import { PierError } from "../common/errors.ts";
import { formatCidr, overlaps, parseCidr, subnetsOf, type Cidr } from "./ipv4.ts";
import type { Route } from "./link.ts";
import type { NetworkRecord } from "./types.ts";

export interface SubnetPool {
  /** A CIDR to carve subnets from, e.g. "172.17.0.0/16". */
  base: string;
  /** The prefix length of each subnet, e.g. 16 or 24. */
  size: number;
}

/** docker's default address pools: 172.17–172.31 as /16s, then 192.168.0.0/16 as /20s. */
export const DEFAULT_POOLS: SubnetPool[] = [
  ...Array.from({ length: 15 }, (_, i) => ({ base: `172.${17 + i}.0.0/16`, size: 16 })),
  { base: "192.168.0.0/16", size: 20 },
];

export interface Occupied {
  cidr: Cidr;
  /** For the error message: "network web (3f2a9c01d2e4)" or "a host route via eth0". */
  what: string;
}

/**
 * What a new subnet must not overlap: the networks' subnets and the host's routes,
 * except the default route and routes through the networks' own bridges.
 */
export function occupied(networks: NetworkRecord[], routes: Route[]): Occupied[] {
  const bridges = new Set(networks.flatMap((n) => (n.bridge ? [n.bridge] : [])));
  const out: Occupied[] = [];
  for (const n of networks) {
    if (n.subnet) out.push({ cidr: parseCidr(n.subnet), what: `network ${n.name} (${n.id.slice(0, 12)})` });
  }
  for (const r of routes) {
    if (r.dst === "0.0.0.0/0" || (r.dev !== undefined && bridges.has(r.dev))) continue;
    let cidr: Cidr;
    try {
      cidr = parseCidr(r.dst, "route", false);
    } catch {
      continue;
    }
    out.push({ cidr, what: `a host route (${r.dst}${r.dev ? ` dev ${r.dev}` : ""})` });
  }
  return out;
}

/** Refuses `subnet` if it overlaps anything in `taken`. */
export function assertFree(subnet: Cidr, taken: Occupied[]): void {
  const clash = taken.find((t) => overlaps(t.cidr, subnet));
  if (clash) {
    throw new PierError("Conflict", `subnet ${formatCidr(subnet)} overlaps with ${clash.what}`, {
      hint: "choose another subnet with --subnet, or let pier pick one",
    });
  }
}

/** The first subnet of the pools that overlaps nothing in `taken`. */
export function pickSubnet(pools: SubnetPool[], taken: Occupied[]): Cidr {
  for (const pool of pools) {
    for (const c of subnetsOf(parseCidr(pool.base, "address pool", false), pool.size)) {
      if (!taken.some((t) => overlaps(t.cidr, c))) return c;
    }
  }
  throw new PierError(
    "ResourceExhausted",
    "all address pools are used up: no free subnet for a new network",
    {
      hint: "remove unused networks (pier network prune) or give the network a --subnet",
    },
  );
}
