/**
 * /etc/resolv.conf: the host's, read; the containers', written as docker does.
 *
 *   user-defined network   nameserver <gateway> (pier's DNS), the host's search
 *                          domains and options, plus ndots:0 if the host sets no ndots
 *   default bridge, none   the host's file without loopback nameservers (unreachable
 *                          from a container); if none are left, 8.8.8.8 and 8.8.4.4
 *                          as docker does
 *   host                   the host's file as it is
 */
import { readFileSync } from "node:fs";

export interface ResolvConf {
  nameservers: string[];
  search: string[];
  options: string[];
}

export function parseResolvConf(text: string): ResolvConf {
  const rc: ResolvConf = { nameservers: [], search: [], options: [] };
  for (const raw of text.split("\n")) {
    const line = raw.replace(/[#;].*$/, "").trim();
    const [key, ...rest] = line.split(/\s+/);
    if (key === "nameserver" && rest[0] !== undefined) rc.nameservers.push(rest[0]);
    else if (key === "search" || key === "domain") rc.search = rest;
    else if (key === "options") rc.options.push(...rest);
  }
  return rc;
}

export function readResolvConf(path: string): ResolvConf {
  try {
    return parseResolvConf(readFileSync(path, "utf8"));
  } catch {
    return { nameservers: [], search: [], options: [] };
  }
}

export function renderResolvConf(rc: ResolvConf): string {
  const lines = rc.nameservers.map((n) => `nameserver ${n}`);
  if (rc.search.length > 0) lines.push(`search ${rc.search.join(" ")}`);
  if (rc.options.length > 0) lines.push(`options ${rc.options.join(" ")}`);
  return lines.join("\n") + "\n";
}

export function isLoopback(ip: string): boolean {
  return ip.startsWith("127.") || ip === "::1";
}

/** resolv.conf for a container served by pier's DNS at `dnsServer`. */
export function embeddedDnsResolvConf(host: ResolvConf, dnsServer: string): string {
  const options = host.options.some((o) => o.startsWith("ndots:"))
    ? host.options
    : [...host.options, "ndots:0"];
  return renderResolvConf({ nameservers: [dnsServer], search: host.search, options });
}

/** resolv.conf for a container on the default bridge (or none): the host's reachable nameservers. */
export function hostDnsResolvConf(host: ResolvConf): string {
  const reachable = host.nameservers.filter((n) => !isLoopback(n));
  return renderResolvConf({
    ...host,
    nameservers: reachable.length > 0 ? reachable : ["8.8.8.8", "8.8.4.4"],
  });
}
