/**
 * Ports as docker's go-connections/nat parses and prints them:
 *
 *   parsePortSpec("127.0.0.1:8000-8001:80-81/udp") → 80/udp → {HostIp 127.0.0.1, HostPort 8000}, 81/udp → …
 *   parseExpose("4000-4001/udp")                      → ["4000/udp", "4001/udp"]
 *   displayablePorts(ps's Ports)                      → "0.0.0.0:8080->80/tcp, 443/tcp"
 */
import type { Port, PortBinding } from "../../api/client/index.ts";
import { isIP } from "node:net";
import { ValueError } from "./values.ts";

export interface PortMapping {
  port: string;
  binding: PortBinding;
}

function parsePortRange(s: string): [number, number] {
  if (s === "") throw new Error("empty string specified for ports");
  const dash = s.indexOf("-");
  const one = (x: string) => {
    if (!/^\d+$/.test(x) || Number(x) > 65535) throw new Error(`invalid port ${x}`);
    return Number(x);
  };
  if (dash < 0) {
    const n = one(s);
    return [n, n];
  }
  const a = one(s.slice(0, dash));
  const b = one(s.slice(dash + 1));
  if (b < a) throw new Error(`invalid range specified for port: ${s}`);
  return [a, b];
}

function splitParts(raw: string): [string, string, string] {
  const parts = raw.split(":");
  const n = parts.length;
  const ctr = parts[n - 1]!;
  if (n === 1) return ["", "", ctr];
  if (n === 2) return ["", parts[0]!, ctr];
  if (n === 3) return [parts[0]!, parts[1]!, ctr];
  return [parts.slice(0, n - 2).join(":"), parts[n - 2]!, ctr];
}

export function splitProtoPort(raw: string): [string, string] {
  const parts = raw.split("/");
  if (raw === "" || parts.length === 0 || parts[0] === "") return ["", ""];
  if (parts.length === 1) return ["tcp", raw];
  if (parts[1] === "") return ["tcp", parts[0]!];
  return [parts[1]!, parts[0]!];
}

/** One `-p` value → the port bindings it makes (nat.ParsePortSpec). */
export function parsePortSpec(raw: string): PortMapping[] {
  const parts = splitParts(raw);
  let ip = parts[0];
  const hostPort = parts[1];
  const [p, containerPort] = splitProtoPort(parts[2]);
  if (ip.startsWith("[")) {
    const m = /^\[([^\]]*)\]$/.exec(ip);
    if (!m) throw new ValueError(`invalid IP address ${ip}`);
    ip = m[1]!;
  }
  if (ip !== "" && isIP(ip) === 0) throw new ValueError(`invalid IP address: ${ip}`);
  if (containerPort === "") throw new ValueError(`no port specified: ${raw}<empty>`);
  let start: number;
  let end: number;
  try {
    [start, end] = parsePortRange(containerPort);
  } catch {
    throw new ValueError(`invalid containerPort: ${containerPort}`);
  }
  let hStart = 0;
  let hEnd = 0;
  if (hostPort !== "") {
    try {
      [hStart, hEnd] = parsePortRange(hostPort);
    } catch {
      throw new ValueError(`invalid hostPort: ${hostPort}`);
    }
  }
  if (hostPort !== "" && end - start !== hEnd - hStart && end !== start) {
    throw new ValueError(
      `invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`,
    );
  }
  const proto = p.toLowerCase();
  if (!["tcp", "udp", "sctp"].includes(proto)) throw new ValueError(`invalid proto: ${proto}`);
  const count = end - start + 1;
  const out: PortMapping[] = [];
  for (let i = 0; i < count; i++) {
    let h = "";
    if (hostPort !== "") {
      h = String(hStart + i);
      if (count === 1 && hStart !== hEnd) h += `-${hEnd}`;
    }
    out.push({ port: `${start + i}/${proto}`, binding: { HostIp: ip, HostPort: h } });
  }
  return out;
}

/** One `--expose` value → container ports ("3000" → "3000/tcp"). */
export function parseExpose(raw: string): string[] {
  if (raw.includes(":")) throw new ValueError(`invalid port format for --expose: ${raw}`);
  const [proto, port] = splitProtoPort(raw);
  const dash = port.indexOf("-");
  const num = (x: string) => {
    if (!/^\d+$/.test(x)) {
      throw new ValueError(
        `invalid range format for --expose: ${raw}, error: strconv.ParseUint: parsing "${x}": invalid syntax`,
      );
    }
    return Number(x);
  };
  const a = num(dash < 0 ? port : port.slice(0, dash));
  const b = dash < 0 ? a : num(port.slice(dash + 1));
  const out: string[] = [];
  for (let i = a; i <= b; i++) out.push(`${i}/${proto}`);
  return out;
}

function comparePorts(i: Port, j: Port): number {
  if (i.PrivatePort !== j.PrivatePort) return i.PrivatePort - j.PrivatePort;
  if ((i.IP ?? "") !== (j.IP ?? "")) return (i.IP ?? "") < (j.IP ?? "") ? -1 : 1;
  if ((i.PublicPort ?? 0) !== (j.PublicPort ?? 0)) return (i.PublicPort ?? 0) - (j.PublicPort ?? 0);
  return i.Type < j.Type ? -1 : i.Type > j.Type ? 1 : 0;
}

function formGroup(key: string, start: number, last: number): string {
  const slash = key.lastIndexOf("/");
  const ip = slash >= 0 ? key.slice(0, slash) : "";
  const type = slash >= 0 ? key.slice(slash + 1) : key;
  let group = String(start);
  if (start !== last) group += `-${last}`;
  if (ip !== "") group = `${ip}:${group}->${group}`;
  return `${group}/${type}`;
}

const joinHostPort = (ip: string, port: number) => (ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`);

/** docker's DisplayablePorts: `ps`'s PORTS column, consecutive ports grouped. */
export function displayablePorts(input: Port[]): string {
  const ports = [...input].sort(comparePorts);
  const groups = new Map<string, { first: number; last: number }>();
  const result: string[] = [];
  const hostMappings: string[] = [];
  for (const port of ports) {
    const current = port.PrivatePort;
    let key: string = port.Type;
    if (port.IP) {
      if (port.PublicPort !== current) {
        hostMappings.push(`${joinHostPort(port.IP, port.PublicPort ?? 0)}->${port.PrivatePort}/${port.Type}`);
        continue;
      }
      key = `${port.IP}/${port.Type}`;
    }
    const g = groups.get(key);
    if (!g) {
      groups.set(key, { first: current, last: current });
      continue;
    }
    if (current === g.last + 1) {
      g.last = current;
      continue;
    }
    result.push(formGroup(key, g.first, g.last));
    // Go re-inserts the key into a map whose iteration order it recorded at first sight.
    groups.set(key, { first: current, last: current });
  }
  for (const [key, g] of groups) result.push(formGroup(key, g.first, g.last));
  return [...result, ...hostMappings].join(", ");
}
