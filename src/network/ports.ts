/**
 * Host ports: who already uses one. A published port is a DNAT rule, invisible
 * to `ss`, so a port is taken when (a) a host process listens on it (TCP) or
 * has it bound (UDP), read from /proc/net/{tcp,udp}{,6} of pier's (the host's)
 * network namespace, (b) another pier endpoint publishes it (the store), or
 * (c) a rule of another CNI runtime or docker forwards it (iptables nat table).
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { createSocket } from "node:dgram";
import type { Protocol } from "./types.ts";
import { cniOwnerOf, type Ruleset } from "./iptables.ts";

export interface HostSocket {
  protocol: Protocol;
  /** "0.0.0.0" / "::" for every address; IPv4-mapped IPv6 addresses are given as IPv4. */
  ip: string;
  port: number;
}

/** Sockets listening (TCP) or bound unconnected (UDP) in this network namespace. */
export function hostSockets(): HostSocket[] {
  const out: HostSocket[] = [];
  for (const [file, protocol, v6] of [
    ["/proc/net/tcp", "tcp", false],
    ["/proc/net/tcp6", "tcp", true],
    ["/proc/net/udp", "udp", false],
    ["/proc/net/udp6", "udp", true],
  ] as const) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue; // no IPv6 in this kernel
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      const local = f[1];
      const state = f[3];
      if (local === undefined || state === undefined) continue;
      // TCP 0A = LISTEN; UDP 07 = unconnected (a server's socket, not a client's).
      if (state !== (protocol === "tcp" ? "0A" : "07")) continue;
      const [hex, portHex] = local.split(":");
      if (hex === undefined || portHex === undefined) continue;
      out.push({ protocol, ip: v6 ? ipv6Hex(hex) : ipv4Hex(hex), port: parseInt(portHex, 16) });
    }
  }
  return out;
}

/** /proc/net/tcp's address: the 32-bit word in host (little-endian) order. */
function ipv4Hex(hex: string): string {
  const n = parseInt(hex, 16);
  return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join(".");
}

/** /proc/net/tcp6's address: four little-endian 32-bit words. Only ::, and ::ffff:a.b.c.d matter here. */
function ipv6Hex(hex: string): string {
  if (/^0+$/.test(hex)) return "::";
  if (hex.slice(0, 16) === "0000000000000000" && hex.slice(16, 24) === "FFFF0000")
    return ipv4Hex(hex.slice(24));
  return `v6:${hex}`;
}

const ANY = new Set(["", "0.0.0.0", "::"]);

/** Whether publishing on `hostIp` (""/0.0.0.0 = every address) collides with something bound to `other`. */
export function addressesCollide(hostIp: string, other: string): boolean {
  if (other.startsWith("v6:")) return false; // an IPv6-only address; pier publishes IPv4
  return ANY.has(hostIp) || ANY.has(other) || hostIp === other;
}

export interface Forward {
  protocol: Protocol;
  port: number;
  /** Who forwards it: "CNI network X (container Y)" or "docker". */
  owner: string;
  /** The CNI network name, when the rule is a CNI plugin's. */
  cniName?: string;
  containerId?: string;
}

/** Ports forwarded by the nat table's CNI portmap and docker rules. */
export function forwardedPorts(rs: Ruleset): Forward[] {
  const out: Forward[] = [];
  for (const r of rs.rules) {
    if (r.table !== "nat") continue;
    const proto = /\s-p (tcp|udp)\b/.exec(r.line)?.[1] as Protocol | undefined;
    if (proto === undefined) continue;
    if (r.chain === "CNI-HOSTPORT-DNAT") {
      const ports = /--dports (\S+)/.exec(r.line)?.[1] ?? /--dport (\d+)/.exec(r.line)?.[1];
      const who = cniOwnerOf(r.comment);
      for (const p of (ports ?? "").split(",")) {
        const [lo, hi] = p.split(":").map(Number);
        if (lo === undefined || !Number.isFinite(lo)) continue;
        for (let port = lo; port <= (hi ?? lo); port++) {
          const f: Forward = {
            protocol: proto,
            port,
            owner: who
              ? `CNI network ${who.net} (container ${who.containerId.slice(0, 12)})`
              : "a CNI network",
          };
          if (who) {
            f.cniName = who.net;
            f.containerId = who.containerId;
          }
          out.push(f);
        }
      }
    } else if (r.chain === "DOCKER" && r.target === "DNAT") {
      const port = Number(/--dport (\d+)/.exec(r.line)?.[1]);
      if (Number.isFinite(port)) out.push({ protocol: proto, port, owner: "docker" });
    }
  }
  return out;
}

/**
 * A port the kernel calls free right now (bound to port 0 and released), for
 * `-p 80` without a host port. `taken` filters out ports pier has reserved.
 */
export async function pickFreePort(
  protocol: Protocol,
  hostIp: string,
  taken: (port: number) => boolean,
): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await ephemeralPort(protocol, ANY.has(hostIp) ? "0.0.0.0" : hostIp);
    if (!taken(port)) return port;
  }
  throw new Error("no free host port found after 50 attempts");
}

function ephemeralPort(protocol: Protocol, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    if (protocol === "udp") {
      const s = createSocket("udp4");
      s.once("error", reject);
      s.bind(0, host, () => {
        const { port } = s.address();
        s.close(() => resolve(port));
      });
      return;
    }
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
