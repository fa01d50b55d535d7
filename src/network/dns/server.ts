/**
 * pier's embedded DNS: one UDP socket and one TCP listener on port 53 of each
 * user-defined network's gateway address (the bridge's own address, in the
 * host's namespace), so the socket a query arrives on says which network asks.
 *
 *   A for a container name, alias or short id on that network   → its address
 *   any other type for such a name                               → NOERROR, no records
 *   any other name                                               → forwarded to the upstreams
 *                                                                  (NXDOMAIN if there are none,
 *                                                                  SERVFAIL if none answers)
 *   a query from outside the network's subnet                    → REFUSED
 *
 * Names are looked up in the state database on every query, so endpoints made by
 * another process are seen at once. Which networks exist is checked every
 * `refreshMs` and after every change made through the manager in this process.
 */
import { createSocket, type Socket } from "node:dgram";
import { connect, createServer, type Server, type Socket as TcpSocket } from "node:net";
import type { NetworkManager } from "../manager.ts";
import { contains, isIpv4, parseCidr, parseIpv4, type Cidr } from "../ipv4.ts";
import { readResolvConf } from "../resolvconf.ts";
import { CLASS_IN, RCODE, TYPE_A, buildAnswer, buildError, parseQuery } from "./message.ts";

export interface DnsServerOptions {
  /**
   * Where unknown names go: "ip" or "ip:port" (IPv4). Default: the nameservers of the
   * manager's host resolv.conf (loopback ones work: the server runs in the host's namespace).
   */
  upstreams?: string[];
  /** Default 53. */
  port?: number;
  /** Default 2000 ms. */
  refreshMs?: number;
  /** TTL of answers (default 600 s, as docker). */
  ttl?: number;
  /** Per-upstream timeout (default 2000 ms). */
  upstreamTimeoutMs?: number;
  /** Reports failures to bind or forward (default: ignored). */
  onError?: (err: Error) => void;
}

export interface DnsServer {
  /** The addresses served now ("10.89.0.1:53", …). */
  readonly addresses: string[];
  /** Looks for new and removed networks now. */
  refresh(): Promise<void>;
  close(): Promise<void>;
}

interface Listener {
  networkId: string;
  address: string;
  udp: Socket;
  tcp: Server;
  conns: Set<TcpSocket>;
}

interface Upstream {
  host: string;
  port: number;
}

export async function startDnsServer(mgr: NetworkManager, opts: DnsServerOptions = {}): Promise<DnsServer> {
  const port = opts.port ?? 53;
  const ttl = opts.ttl ?? 600;
  const timeoutMs = opts.upstreamTimeoutMs ?? 2000;
  const report = (err: unknown): void => opts.onError?.(err instanceof Error ? err : new Error(String(err)));
  const listeners = new Map<string, Listener>(); // by gateway address
  let closed = false;
  let refreshing: Promise<void> | undefined;
  let again = false;

  const upstreams = (): Upstream[] => {
    const list =
      opts.upstreams ?? readResolvConf(mgr.hostResolvConf).nameservers.filter((s) => !s.includes(":"));
    return list.map(parseUpstream).filter((u) => !(listeners.has(u.host) && u.port === port));
  };

  async function answer(networkId: string, msg: Buffer, viaTcp: boolean): Promise<Buffer | undefined> {
    const q = parseQuery(msg);
    if (!q) return buildError(msg, RCODE.FORMERR);
    if (q.opcode !== 0) return buildAnswer(msg, q, RCODE.NOTIMP, [], ttl);
    const ips = q.class === CLASS_IN ? mgr.resolveName(networkId, q.name) : [];
    if (ips.length > 0) return buildAnswer(msg, q, RCODE.NOERROR, q.type === TYPE_A ? ips : [], ttl);
    const ups = upstreams();
    if (ups.length === 0) return buildAnswer(msg, q, RCODE.NXDOMAIN, [], ttl);
    for (const u of ups) {
      try {
        const reply = await forwardUdp(u, msg, timeoutMs);
        // Truncated over UDP: a client that asked over TCP gets the whole answer over TCP.
        const truncated = reply.length >= 4 && (reply.readUInt16BE(2) & 0x0200) !== 0;
        return viaTcp && truncated ? await forwardTcp(u, msg, timeoutMs) : reply;
      } catch (err) {
        report(new Error(`DNS: upstream ${u.host}:${u.port}: ${(err as Error).message}`));
      }
    }
    return buildAnswer(msg, q, RCODE.SERVFAIL, [], ttl);
  }

  async function listen(networkId: string, address: string, subnet: Cidr): Promise<Listener | undefined> {
    // The gateway address is reachable from other networks' containers too (it is the
    // host's); only this network's own addresses may learn its names.
    const mine = (ip: string | undefined): boolean => {
      const v4 = ip?.replace(/^::ffff:/, "");
      return v4 !== undefined && isIpv4(v4) && contains(subnet, parseIpv4(v4));
    };
    const udp = createSocket({ type: "udp4" });
    const conns = new Set<TcpSocket>();
    const tcp = createServer((c) => {
      if (!mine(c.remoteAddress)) {
        c.destroy();
        return;
      }
      conns.add(c);
      c.on("close", () => conns.delete(c));
      serveTcp(c, (m) => answer(networkId, m, true));
    });
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once("error", reject);
        udp.bind({ address, port, exclusive: true }, () => {
          udp.off("error", reject);
          resolve();
        });
      });
      await new Promise<void>((resolve, reject) => {
        tcp.once("error", reject);
        tcp.listen({ host: address, port, exclusive: true }, () => {
          tcp.off("error", reject);
          resolve();
        });
      });
    } catch (err) {
      udp.close();
      tcp.close();
      // EADDRNOTAVAIL: the bridge is not up yet (no container so far, or a reboot); try later.
      if ((err as NodeJS.ErrnoException).code !== "EADDRNOTAVAIL") {
        report(new Error(`DNS: cannot listen on ${address}:${port}: ${(err as Error).message}`));
      }
      return undefined;
    }
    udp.on("error", report);
    tcp.on("error", report);
    udp.on("message", (msg, rinfo) => {
      if (!mine(rinfo.address)) {
        const refused = buildError(msg, RCODE.REFUSED);
        if (refused) udp.send(refused, rinfo.port, rinfo.address);
        return;
      }
      answer(networkId, msg, false).then(
        (reply) => {
          if (reply && !closed) udp.send(reply, rinfo.port, rinfo.address);
        },
        (err: unknown) => report(err),
      );
    });
    return { networkId, address, udp, tcp, conns };
  }

  async function stop(l: Listener): Promise<void> {
    listeners.delete(l.address);
    for (const c of l.conns) c.destroy();
    await Promise.all([
      new Promise<void>((r) => l.udp.close(() => r())),
      new Promise<void>((r) => l.tcp.close(() => r())),
    ]);
  }

  async function refreshOnce(): Promise<void> {
    const wanted = new Map<string, { id: string; subnet: Cidr }>(); // by gateway
    for (const n of await mgr.list()) {
      if (n.dns && n.gateway && n.subnet) wanted.set(n.gateway, { id: n.id, subnet: parseCidr(n.subnet) });
    }
    for (const l of [...listeners.values()]) {
      if (wanted.get(l.address)?.id !== l.networkId) await stop(l);
    }
    for (const [address, { id, subnet }] of wanted) {
      if (closed || listeners.has(address)) continue;
      const l = await listen(id, address, subnet);
      if (l && !closed) listeners.set(address, l);
      else if (l) await stop(l);
    }
  }

  /** One refresh at a time; a request during one runs another after it. */
  function refresh(): Promise<void> {
    if (refreshing) {
      again = true;
      return refreshing;
    }
    refreshing = (async () => {
      try {
        do {
          again = false;
          await refreshOnce();
        } while (again && !closed);
      } finally {
        refreshing = undefined;
      }
    })();
    return refreshing;
  }

  await refresh();
  const timer = setInterval(() => void refresh().catch(report), opts.refreshMs ?? 2000);
  timer.unref();
  const unsubscribe = mgr.onChange(() => void refresh().catch(report));

  return {
    get addresses() {
      return [...listeners.keys()].map((a) => `${a}:${port}`);
    },
    refresh,
    async close() {
      closed = true;
      clearInterval(timer);
      unsubscribe();
      await refreshing?.catch(() => {});
      await Promise.all([...listeners.values()].map(stop));
    },
  };
}

function parseUpstream(s: string): Upstream {
  const m = /^(\d+\.\d+\.\d+\.\d+)(?::(\d+))?$/.exec(s);
  if (!m) throw new Error(`invalid DNS upstream ${JSON.stringify(s)} (expected IPv4[:port])`);
  return { host: m[1]!, port: m[2] ? Number(m[2]) : 53 };
}

/** Serves length-prefixed DNS messages on a TCP connection (RFC 1035 4.2.2), in order. */
function serveTcp(c: TcpSocket, handle: (m: Buffer) => Promise<Buffer | undefined>): void {
  let buf = Buffer.alloc(0);
  let chain = Promise.resolve();
  c.setTimeout(30_000, () => c.destroy());
  c.on("error", () => c.destroy());
  c.on("data", (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 2) {
      const len = buf.readUInt16BE(0);
      if (buf.length < 2 + len) break;
      const msg = buf.subarray(2, 2 + len);
      buf = buf.subarray(2 + len);
      chain = chain.then(async () => {
        const reply = await handle(msg).catch(() => undefined);
        if (reply && !c.destroyed) c.write(withLength(reply));
      });
    }
  });
}

function withLength(m: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(m.length, 0);
  return Buffer.concat([len, m]);
}

function forwardUdp(u: Upstream, msg: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = createSocket("udp4");
    const timer = setTimeout(() => done(new Error("timed out")), timeoutMs);
    const done = (err: Error | undefined, reply?: Buffer): void => {
      clearTimeout(timer);
      s.close();
      if (err) reject(err);
      else resolve(reply!);
    };
    s.on("error", (err) => done(err));
    s.on("message", (reply) => {
      // The reply must answer this query (same id); anything else is ignored.
      if (reply.length >= 2 && reply.readUInt16BE(0) === msg.readUInt16BE(0)) done(undefined, reply);
    });
    s.connect(u.port, u.host, () => s.send(msg));
  });
}

function forwardTcp(u: Upstream, msg: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const c = connect({ host: u.host, port: u.port });
    let buf = Buffer.alloc(0);
    c.setTimeout(timeoutMs, () => {
      c.destroy();
      reject(new Error("timed out"));
    });
    c.on("error", reject);
    c.on("connect", () => c.write(withLength(msg)));
    c.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        c.destroy();
        resolve(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      }
    });
  });
}
