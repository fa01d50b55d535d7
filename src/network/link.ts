/**
 * Links and routes in the host's network namespace, through iproute2's JSON
 * output (`ip -j`). pier creates a network's bridge itself when the network is
 * created (docker does the same), so its gateway address exists for the DNS
 * server before the first container; the bridge plugin then finds it in place.
 */
import { existsSync, readFileSync } from "node:fs";
import { run, runRaw } from "./exec.ts";

export interface Link {
  name: string;
  /** "bridge", "veth", … ("" for devices without a kind, e.g. a physical NIC). */
  kind: string;
  master?: string;
  mtu: number;
  up: boolean;
}

interface IpLink {
  ifname: string;
  mtu?: number;
  master?: string;
  flags?: string[];
  linkinfo?: { info_kind?: string };
}

export async function listLinks(): Promise<Link[]> {
  const links = JSON.parse(await run("ip", ["-j", "-d", "link", "show"])) as IpLink[];
  return links.map((l) => {
    const link: Link = {
      name: l.ifname,
      kind: l.linkinfo?.info_kind ?? "",
      mtu: l.mtu ?? 0,
      up: l.flags?.includes("UP") ?? false,
    };
    if (l.master !== undefined) link.master = l.master;
    return link;
  });
}

export function linkExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}

/** Deletes a link; a link that is already gone is fine. */
export async function deleteLink(name: string): Promise<void> {
  const r = await runRaw("ip", ["link", "del", "dev", name]);
  if (r.code !== 0 && linkExists(name)) throw new Error(`ip link del ${name}: ${r.stderr.trim()}`);
}

/** Creates the bridge if needed, gives it `address` (CIDR form) and brings it up. */
export async function ensureBridge(name: string, address: string, mtu: number | undefined): Promise<void> {
  if (!linkExists(name)) {
    const args = ["link", "add", "name", name];
    if (mtu !== undefined) args.push("mtu", String(mtu));
    const r = await runRaw("ip", [...args, "type", "bridge"]);
    if (r.code !== 0 && !/exists/i.test(r.stderr))
      throw new Error(`ip link add ${name} type bridge: ${r.stderr.trim()}`);
  }
  // replace: adds the address, or leaves it as it is when it is there already.
  await run("ip", ["addr", "replace", address, "dev", name]);
  await run("ip", ["link", "set", "dev", name, "up"]);
}

export interface Route {
  dst: string;
  dev?: string;
}

/** The IPv4 routes of the main table ("default" included as 0.0.0.0/0). */
export async function listRoutes(): Promise<Route[]> {
  const routes = JSON.parse(await run("ip", ["-j", "-4", "route", "show"])) as {
    dst: string;
    dev?: string;
  }[];
  return routes.map((r) => {
    const dst = r.dst === "default" ? "0.0.0.0/0" : r.dst.includes("/") ? r.dst : `${r.dst}/32`;
    return r.dev === undefined ? { dst } : { dst, dev: r.dev };
  });
}

/** The MTU of the interface the default route leaves by, if there is one. */
export function defaultRouteMtu(routes: Route[]): number | undefined {
  const dev = routes.find((r) => r.dst === "0.0.0.0/0")?.dev;
  if (dev === undefined) return undefined;
  try {
    return Number(readFileSync(`/sys/class/net/${dev}/mtu`, "utf8").trim()) || undefined;
  } catch {
    return undefined;
  }
}
