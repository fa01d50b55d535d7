/**
 * IPv4 addresses and prefixes as plain numbers: parsing, formatting, overlap,
 * and the addresses inside a subnet. pier's networks are IPv4 only for now.
 */
import { invalid } from "../common/errors.ts";

export interface Cidr {
  /** The network address (host bits cleared), as an unsigned 32-bit number. */
  base: number;
  prefixLen: number;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function isIpv4(s: string): boolean {
  const m = IPV4.exec(s);
  return m !== null && m.slice(1).every((o) => Number(o) <= 255 && String(Number(o)) === o);
}

/** "10.1.2.3" → number; anything else is an InvalidArgument naming `what`. */
export function parseIpv4(s: string, what = "IPv4 address"): number {
  if (!isIpv4(s)) throw invalid(`invalid ${what} ${JSON.stringify(s)}`);
  const m = IPV4.exec(s)!;
  return ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

export function maskOf(prefixLen: number): number {
  return prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
}

/**
 * "10.1.0.0/16" → Cidr. With `strict`, host bits must be zero ("10.1.2.3/16" is refused,
 * as docker refuses it for a subnet); otherwise they are cleared.
 */
export function parseCidr(s: string, what = "subnet", strict = true): Cidr {
  const slash = s.indexOf("/");
  if (slash < 0) throw invalid(`invalid ${what} ${JSON.stringify(s)}: expected a CIDR such as 10.1.0.0/16`);
  const len = s.slice(slash + 1);
  const prefixLen = Number(len);
  if (!/^\d{1,2}$/.test(len) || prefixLen > 32)
    throw invalid(`invalid ${what} ${JSON.stringify(s)}: bad prefix length`);
  const addr = parseIpv4(s.slice(0, slash), what);
  const base = (addr & maskOf(prefixLen)) >>> 0;
  if (strict && base !== addr) {
    throw invalid(`invalid ${what} ${s}: host bits are set`, `use ${formatIpv4(base)}/${prefixLen}`);
  }
  return { base, prefixLen };
}

export function formatCidr(c: Cidr): string {
  return `${formatIpv4(c.base)}/${c.prefixLen}`;
}

/** The number of addresses in the prefix (2^(32-len)). */
export function sizeOf(c: Cidr): number {
  return 2 ** (32 - c.prefixLen);
}

export function contains(c: Cidr, ip: number): boolean {
  return (ip & maskOf(c.prefixLen)) >>> 0 === c.base;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  const len = Math.min(a.prefixLen, b.prefixLen);
  return (a.base & maskOf(len)) >>> 0 === (b.base & maskOf(len)) >>> 0;
}

/** The first usable address (network + 1), the conventional gateway. */
export function firstHost(c: Cidr): number {
  return c.base + 1;
}

export function broadcastOf(c: Cidr): number {
  return c.base + sizeOf(c) - 1;
}

/** True when `ip` is inside `c` and neither its network nor its broadcast address. */
export function isHostIn(c: Cidr, ip: number): boolean {
  return contains(c, ip) && ip !== c.base && ip !== broadcastOf(c);
}

/** Splits `pool` into consecutive prefixes of length `size` (in address order). */
export function* subnetsOf(pool: Cidr, size: number): Generator<Cidr> {
  if (size < pool.prefixLen) return;
  const step = 2 ** (32 - size);
  for (let b = pool.base; b < pool.base + sizeOf(pool); b += step) yield { base: b, prefixLen: size };
}
