/**
 * The network layer against the real kernel and Debian's CNI plugins (root).
 * Every name is unique to the run (namespaces pier-t-<rand>-*, bridges pt<rand>*,
 * a free 10.x/16); the run's teardown removes everything, also after a failure.
 */
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { connect, createServer, type Server } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { isKind } from "../common/errors.ts";
import { buildQuery, readAnswer } from "./dns/message.ts";
import { startDnsServer, type DnsServer } from "./dns/server.ts";
import { cniChainsOf } from "./iptables.ts";
import { listLeases } from "./leases.ts";
import { NetworkManager } from "./manager.ts";
import { NetTestRun, runLinks, runRules, sh, shAsync, shStatus, sleep } from "./testing.ts";
import type { NetworkRecord } from "./types.ts";

const ROOT = process.getuid?.() === 0;
const HAVE_CNI = existsSync("/usr/lib/cni/bridge") && existsSync("/usr/lib/cni/portmap");
const skip = !ROOT ? "needs root" : !HAVE_CNI ? "needs containernetworking-plugins" : false;

/** A one-answer DNS server on 127.0.0.1: the "host resolver" unknown names are forwarded to. */
async function startStubResolver(
  answer: string,
): Promise<{ port: number; queries: string[]; close(): void }> {
  const { parseQuery, buildAnswer } = await import("./dns/message.ts");
  const s = createSocket("udp4");
  const queries: string[] = [];
  s.on("message", (msg, r) => {
    const q = parseQuery(msg);
    if (!q) return;
    queries.push(q.name);
    s.send(buildAnswer(msg, q, 0, q.type === 1 ? [answer] : [], 60), r.port, r.address);
  });
  await new Promise<void>((res) => s.bind(0, "127.0.0.1", () => res()));
  return { port: s.address().port, queries, close: () => s.close() };
}

function udpQuery(server: string, name: string): Promise<{ rcode: number; addresses: string[] }> {
  return new Promise((resolve, reject) => {
    const s = createSocket("udp4");
    const id = Math.floor(Math.random() * 65535);
    const t = setTimeout(() => {
      s.close();
      reject(new Error(`no DNS answer from ${server} for ${name}`));
    }, 3000);
    s.on("message", (m) => {
      clearTimeout(t);
      s.close();
      const a = readAnswer(m);
      assert.equal(a.id, id);
      resolve(a);
    });
    s.send(buildQuery(id, name), 53, server);
  });
}

function tcpQuery(server: string, name: string): Promise<{ rcode: number; addresses: string[] }> {
  return new Promise((resolve, reject) => {
    const q = buildQuery(7, name);
    const len = Buffer.alloc(2);
    len.writeUInt16BE(q.length);
    const c = connect({ host: server, port: 53 }, () => c.write(Buffer.concat([len, q])));
    let buf = Buffer.alloc(0);
    c.setTimeout(3000, () => {
      c.destroy();
      reject(new Error("DNS over TCP timed out"));
    });
    c.on("error", reject);
    c.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        c.destroy();
        resolve(readAnswer(buf.subarray(2)));
      }
    });
  });
}

function httpGet(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host: "127.0.0.1", port, path: "/index.html", timeout: 3000 }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve(body));
    });
    req.on("timeout", () => req.destroy(new Error("HTTP timed out")));
    req.on("error", reject);
  });
}

async function waitForHttp(port: number): Promise<string> {
  let last: unknown;
  for (let i = 0; i < 50; i++) {
    try {
      return await httpGet(port);
    } catch (err) {
      last = err;
      await sleep(50);
    }
  }
  throw last;
}

function ping(ns: string, ip: string): boolean {
  return shStatus("ip", "netns", "exec", ns, "busybox", "ping", "-c1", "-W1", ip).code === 0;
}

function linkNames(): string[] {
  return (JSON.parse(sh("ip", "-j", "link", "show")) as { ifname: string }[]).map((l) => l.ifname);
}

async function rejectsWith(p: Promise<unknown>, kind: string, re?: RegExp): Promise<Error> {
  try {
    await p;
  } catch (err) {
    assert.ok(isKind(err, kind as never), `expected ${kind}, got ${String(err)}`);
    if (re) assert.match((err as Error).message, re);
    return err as Error;
  }
  assert.fail(`expected a ${kind} error`);
}

/** A host port nobody uses, in a range pier's tests own by randomness. */
function randomPort(): number {
  return 20000 + Math.floor(Math.random() * 20000);
}

describe("network layer on the real kernel", { skip }, () => {
  let run: NetTestRun;
  let mgr: NetworkManager;
  let dns: DnsServer | undefined;
  let stub: Awaited<ReturnType<typeof startStubResolver>> | undefined;
  const managers: NetworkManager[] = [];
  let net1: NetworkRecord;
  let nsA: [string, string];
  let nsB: [string, string];
  const idA = "a".repeat(56) + "00000001";
  const idB = "b".repeat(56) + "00000002";

  before(async () => {
    run = new NetTestRun();
    const resolv = join(run.stateDir, "host-resolv.conf");
    writeFileSync(resolv, "nameserver 127.0.0.1\nsearch example.test\n");
    mgr = await NetworkManager.open({
      stateDir: run.stateDir,
      bridgePrefix: run.prefix,
      defaultBridge: { subnet: run.subnet(0) },
      subnetPools: [{ base: run.block.replace(/\.0\.0\/16$/, ".128.0/17"), size: 24 }],
      hostResolvConf: resolv,
    });
    managers.push(mgr);
    stub = await startStubResolver("203.0.113.7");
    dns = await startDnsServer(mgr, { upstreams: [`127.0.0.1:${stub.port}`], refreshMs: 200 });
  });

  after(async () => {
    await dns?.close().catch(() => {});
    stub?.close();
    for (const m of managers) {
      try {
        m.close();
      } catch {
        // closed already
      }
    }
    run?.teardown();
    // Nothing of the run may remain.
    if (run) {
      assert.deepEqual(runLinks(run.prefix), []);
      assert.deepEqual(runRules(run.prefix, run.block), []);
      assert.ok(!existsSync(run.stateDir));
    }
  });

  it("has the predefined networks bridge, host and none, which cannot be removed", async () => {
    const names = (await mgr.list()).map((n) => n.name);
    assert.deepEqual(names.slice(0, 3).sort(), ["bridge", "host", "none"]);
    const bridge = await mgr.inspect("bridge");
    assert.equal(bridge.bridge, `${run.prefix}0`);
    assert.equal(bridge.subnet, run.subnet(0));
    assert.equal(bridge.dns, false);
    await rejectsWith(mgr.remove("bridge"), "PermissionDenied");
    await rejectsWith(mgr.remove("host"), "PermissionDenied");
    await rejectsWith(mgr.create({ name: "none" }), "AlreadyExists");
    await rejectsWith(
      mgr.create({ name: "x", subnet: run.subnet(0) }),
      "Conflict",
      /overlaps with network bridge/,
    );
    await rejectsWith(mgr.create({ name: "x", driver: "macvlan" as "bridge" }), "NotImplemented");
  });

  it("attach gives the namespace an eth0 with an address and a default route", async () => {
    net1 = await mgr.create({ name: `web-${run.rand}`, subnet: run.subnet(1), labels: { app: "t" } });
    assert.equal(net1.gateway, run.addr(1, 1));
    assert.ok(linkNames().includes(net1.bridge!), "bridge created with the network");
    assert.equal((await mgr.inspect(net1.id.slice(0, 10))).name, net1.name);

    nsA = run.netnsAdd("a");
    await mgr.setupLoopback(nsA[1]);
    const a = await mgr.attach({
      network: net1.name,
      containerId: idA,
      containerName: "/alpha",
      netnsPath: nsA[1],
    });
    assert.equal(a.ifName, "eth0");
    assert.equal(a.gateway, run.addr(1, 1));
    assert.equal(a.prefixLen, 24);
    assert.match(a.mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    const addrs = JSON.parse(sh("ip", "netns", "exec", nsA[0], "ip", "-j", "-4", "addr", "show")) as {
      ifname: string;
      operstate: string;
      addr_info: { local: string }[];
    }[];
    const eth0 = addrs.find((l) => l.ifname === "eth0");
    assert.equal(eth0?.addr_info[0]?.local, a.ip);
    assert.ok(
      addrs.some((l) => l.ifname === "lo" && l.addr_info[0]?.local === "127.0.0.1"),
      "lo is up",
    );
    const routes = JSON.parse(sh("ip", "netns", "exec", nsA[0], "ip", "-j", "route", "show")) as {
      dst: string;
      gateway?: string;
    }[];
    assert.ok(
      routes.some((r) => r.dst === "default" && r.gateway === a.gateway),
      "default route via the gateway",
    );
    await mgr.checkEndpoint({ network: net1.name, containerId: idA });

    const ep = (await mgr.inspect(net1.name)).endpoints ?? [];
    assert.equal(ep.length, 1);
    assert.equal(ep[0]?.containerName, "alpha");
    assert.equal(ep[0]?.state, "attached");
    await rejectsWith(
      mgr.attach({ network: net1.name, containerId: idA, containerName: "alpha", netnsPath: nsA[1] }),
      "AlreadyExists",
    );
    await rejectsWith(
      mgr.attach({ network: "host", containerId: idA, containerName: "alpha", netnsPath: nsA[1] }),
      "InvalidArgument",
    );
  });

  it("two containers on one network ping each other and find each other by name", async () => {
    nsB = run.netnsAdd("b");
    const b = await mgr.attach({
      network: net1.name,
      containerId: idB,
      containerName: "beta",
      aliases: ["db"],
      netnsPath: nsB[1],
      ip: run.addr(1, 77),
    });
    assert.equal(b.ip, run.addr(1, 77), "the fixed address was given");
    const [, nsX] = run.netnsAdd("x");
    await rejectsWith(
      mgr.attach({
        network: net1.name,
        containerId: "x".repeat(64),
        containerName: "xray",
        netnsPath: nsX,
        ip: b.ip,
      }),
      "Conflict",
      /requested IP address .* is not available/,
    );
    const a = (await mgr.inspect(net1.name)).endpoints!.find((e) => e.containerId === idA)!;
    assert.ok(ping(nsA[0], b.ip), "alpha pings beta");
    assert.ok(ping(nsB[0], a.ip!), "beta pings alpha");

    const gw = net1.gateway!;
    await dns!.refresh();
    assert.ok(dns!.addresses.includes(`${gw}:53`), `DNS listens on ${gw}:53 (${dns!.addresses.join(", ")})`);
    assert.equal(mgr.resolvConfFor(net1.name), `nameserver ${gw}\nsearch example.test\noptions ndots:0\n`);
    assert.equal(
      mgr.resolvConfFor("bridge"),
      "nameserver 8.8.8.8\nnameserver 8.8.4.4\nsearch example.test\n",
    );

    // From inside the namespaces, with busybox's resolver.
    const look = (ns: string, name: string): Promise<string> =>
      shAsync("ip", "netns", "exec", ns, "busybox", "nslookup", name, gw);
    assert.match(await look(nsA[0], "beta"), new RegExp(`Address:? +${b.ip.replace(/\./g, "\\.")}`));
    assert.match(await look(nsA[0], "db"), new RegExp(b.ip.replace(/\./g, "\\.")));
    assert.match(await look(nsB[0], "alpha"), new RegExp(a.ip!.replace(/\./g, "\\.")));
    assert.match(await look(nsB[0], idA.slice(0, 12)), new RegExp(a.ip!.replace(/\./g, "\\.")));
    // From the host, over UDP and TCP.
    assert.deepEqual((await udpQuery(gw, "BETA.")).addresses, [b.ip]);
    assert.deepEqual((await udpQuery(gw, `beta.${net1.name}`)).addresses, [b.ip]);
    assert.deepEqual((await tcpQuery(gw, "db")).addresses, [b.ip]);
    // Unknown names go to the host's resolver (here a stub on 127.0.0.1).
    const fwd = await udpQuery(gw, "example.invalid");
    assert.deepEqual(fwd.addresses, ["203.0.113.7"]);
    assert.ok(stub!.queries.includes("example.invalid"));
    assert.deepEqual((await tcpQuery(gw, "other.invalid")).addresses, ["203.0.113.7"]);
    // The default bridge has no DNS.
    assert.deepEqual(mgr.resolveName("bridge", "beta"), []);
  });

  let webPort = 0;
  let nsC: [string, string];
  const idC = "c".repeat(56) + "00000003";

  it("a published port answers at 127.0.0.1:HOSTPORT", async () => {
    nsC = run.netnsAdd("c");
    await mgr.setupLoopback(nsC[1]);
    webPort = await mgr.freeHostPort("tcp");
    const c = await mgr.attach({
      network: "bridge",
      containerId: idC,
      containerName: "web",
      netnsPath: nsC[1],
      portMappings: [
        { hostPort: webPort, containerPort: 80, protocol: "tcp" },
        { hostPort: webPort, containerPort: 80, protocol: "udp", hostIp: "127.0.0.1" },
      ],
    });
    assert.ok(c.ip.startsWith(run.addr(0, 0).replace(/0$/, "")), "address from the default bridge's subnet");
    const www = join(run.stateDir, "www");
    mkdirSync(www);
    writeFileSync(join(www, "index.html"), `hello from ${run.rand}\n`);
    run.spawnIn(nsC[0], "busybox", "httpd", "-f", "-p", "80", "-h", www);
    assert.equal(await waitForHttp(webPort), `hello from ${run.rand}\n`);
    assert.equal(readFileSync(`/proc/sys/net/ipv4/conf/${run.prefix}0/route_localnet`, "utf8").trim(), "1");
  });

  it("refuses a host port in use, by an endpoint or a host socket, and leaves nothing behind", async () => {
    const [, path] = run.netnsAdd("d");
    const idD = "d".repeat(64);
    const linksBefore = linkNames().sort();
    const rulesBefore = runRules(run.prefix, run.block).sort();
    const leasesBefore = listLeases(join(run.stateDir, "ipam")).length;
    const attachD = (hostPort: number, protocol: "tcp" | "udp" = "tcp", hostIp?: string) =>
      mgr.attach({
        network: net1.name,
        containerId: idD,
        containerName: "delta",
        netnsPath: path,
        portMappings: [{ hostPort, containerPort: 80, protocol, ...(hostIp ? { hostIp } : {}) }],
      });

    const e1 = await rejectsWith(
      attachD(webPort),
      "Conflict",
      new RegExp(`port ${webPort}/tcp is already in use`),
    );
    assert.match(e1.message, /container web/);
    // udp on 127.0.0.1 is taken too; udp on another address is not, tcp on it is.
    await rejectsWith(attachD(webPort, "udp"), "Conflict");

    let server: Server | undefined;
    const busy = randomPort();
    try {
      server = createServer();
      await new Promise<void>((r) => server!.listen(busy, "127.0.0.1", () => r()));
      const e2 = await rejectsWith(
        attachD(busy),
        "Conflict",
        new RegExp(`port ${busy}/tcp is already in use on the host`),
      );
      assert.match(e2.message, new RegExp(`127\\.0\\.0\\.1:${busy}`));
      assert.ok((e2 as { hint?: string }).hint, "the error says what to do");
    } finally {
      await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    }
    await rejectsWith(
      mgr.attach({
        network: net1.name,
        containerId: idD,
        containerName: "delta",
        netnsPath: path,
        portMappings: [
          { hostPort: busy, containerPort: 80, protocol: "tcp" },
          { hostPort: busy, containerPort: 81, protocol: "tcp" },
        ],
      }),
      "InvalidArgument",
    );
    assert.deepEqual(linkNames().sort(), linksBefore);
    assert.deepEqual(runRules(run.prefix, run.block).sort(), rulesBefore);
    assert.equal(listLeases(join(run.stateDir, "ipam")).length, leasesBefore);
    assert.equal(
      (await mgr.inspect(net1.name)).endpoints!.some((e) => e.containerId === idD),
      false,
    );
    assert.notEqual(await mgr.freeHostPort("tcp"), webPort);
  });

  it("detach removes the veth, the lease and every rule (and may be repeated)", async () => {
    const ep = (await mgr.inspect("bridge")).endpoints!.find((e) => e.containerId === idC)!;
    const cniName = (await mgr.inspect("bridge")).cniName!;
    assert.ok(ep.hostVeth && linkNames().includes(ep.hostVeth));
    const chains = cniChainsOf(cniName, idC);
    assert.ok(sh("iptables-save").includes(chains.dnat), "portmap chain present while attached");

    await mgr.detach({ network: "bridge", containerId: idC });
    assert.ok(!linkNames().includes(ep.hostVeth!), "host veth gone");
    assert.equal(shStatus("ip", "netns", "exec", nsC[0], "ip", "link", "show", "eth0").code, 1, "eth0 gone");
    assert.deepEqual(listLeases(join(run.stateDir, "ipam"), cniName), []);
    const saved = sh("iptables-save");
    assert.ok(!saved.includes(idC), "no rule names the container");
    assert.ok(!saved.includes(chains.dnat) && !saved.includes(chains.masq), "its chains are gone");
    assert.ok(!sh("nft", "list", "ruleset").includes(idC));
    await assert.rejects(httpGet(webPort));
    await mgr.detach({ network: "bridge", containerId: idC });
    assert.equal((await mgr.inspect("bridge")).endpoints!.length, 0);
  });

  it("DEL works after the namespace is gone and after a restart", async () => {
    const [name, path] = run.netnsAdd("e");
    const idE = "e".repeat(64);
    const port = randomPort();
    await mgr.attach({
      network: net1.name,
      containerId: idE,
      containerName: "echo",
      netnsPath: path,
      portMappings: [{ hostPort: port, containerPort: 80, protocol: "tcp" }],
    });
    assert.ok(sh("iptables-save").includes(idE));
    run.netnsDel(name);
    // A new manager over the same state directory, as after a daemon restart.
    const again = await NetworkManager.open({ stateDir: run.stateDir, bridgePrefix: run.prefix });
    managers.push(again);
    await again.detach({ network: net1.name, containerId: idE });
    assert.ok(
      !sh("iptables-save").includes(idE),
      "masquerade and DNAT rules gone although the namespace was",
    );
    assert.ok(!listLeases(join(run.stateDir, "ipam")).some((l) => l.containerId === idE));
    again.close();
  });

  it("check() reports injected leaks and cleanup() removes them", async () => {
    assert.deepEqual(await mgr.check(), [], "no leaks to begin with");
    const cniName = net1.cniName!;
    const fakeId = "f".repeat(64);
    // A bridge and a veth of nobody's, a lease, masquerade rules and a stale endpoint.
    sh("ip", "link", "add", `${run.prefix}-leak`, "type", "bridge");
    sh("ip", "link", "add", `${run.prefix}v0`, "type", "veth", "peer", "name", `${run.prefix}v1`);
    sh("ip", "link", "set", `${run.prefix}v0`, "master", net1.bridge!);
    const lease = join(run.stateDir, "ipam", cniName, run.addr(1, 200));
    writeFileSync(lease, `${fakeId}\r\neth0`);
    const chain = cniChainsOf(cniName, fakeId).masq;
    const comment = `name: "${cniName}" id: "${fakeId}"`;
    sh("iptables", "-w", "-t", "nat", "-N", chain);
    sh(
      "iptables",
      "-w",
      "-t",
      "nat",
      "-A",
      chain,
      "-d",
      run.subnet(1),
      "-m",
      "comment",
      "--comment",
      comment,
      "-j",
      "ACCEPT",
    );
    sh(
      "iptables",
      "-w",
      "-t",
      "nat",
      "-A",
      "POSTROUTING",
      "-s",
      `${run.addr(1, 200)}/32`,
      "-m",
      "comment",
      "--comment",
      comment,
      "-j",
      chain,
    );
    // A filter rule of a network that is gone.
    sh(
      "iptables",
      "-w",
      "-A",
      "PIER-FORWARD",
      "-i",
      `${run.prefix}-leak`,
      "-m",
      "comment",
      "--comment",
      `pier:${run.prefix}-deadbeef0000`,
      "-j",
      "ACCEPT",
    );
    const [nsName, nsPath] = run.netnsAdd("f");
    const idF = "9".repeat(64);
    await mgr.attach({ network: net1.name, containerId: idF, containerName: "foxtrot", netnsPath: nsPath });
    run.netnsDel(nsName);

    const leaks = await mgr.check();
    const kinds = leaks.map((l) => l.kind).sort();
    assert.deepEqual(
      kinds,
      [
        "bridge",
        "endpoint",
        "iptables-chain",
        "iptables-rule",
        "iptables-rule",
        "iptables-rule",
        "lease",
        "veth",
      ],
      JSON.stringify(leaks, null, 1),
    );
    assert.ok(leaks.every((l) => l.description.length > 0));
    await mgr.cleanup(leaks);
    assert.deepEqual(await mgr.check(), []);
    assert.ok(!linkNames().some((l) => l.startsWith(`${run.prefix}v`) || l === `${run.prefix}-leak`));
    assert.ok(!existsSync(lease));
    const saved = sh("iptables-save");
    assert.ok(!saved.includes(fakeId) && !saved.includes(idF) && !saved.includes(chain));
    assert.equal(
      (await mgr.inspect(net1.name)).endpoints!.some((e) => e.containerId === idF),
      false,
    );
  });

  it("isolates networks; internal networks have no way out; removing a network removes its bridge and rules", async () => {
    const net2 = await mgr.create({ name: `int-${run.rand}`, internal: true });
    assert.ok(
      net2.subnet?.startsWith(run.block.replace(/\.0\.0\/16$/, ".128.")),
      `auto subnet from the pool: ${net2.subnet}`,
    );
    const [nsName, nsPath] = run.netnsAdd("g");
    const idG = "7".repeat(64);
    const g = await mgr.attach({
      network: net2.name,
      containerId: idG,
      containerName: "golf",
      netnsPath: nsPath,
      portMappings: [{ hostPort: randomPort(), containerPort: 80, protocol: "tcp" }],
    });
    const routes = JSON.parse(sh("ip", "netns", "exec", nsName, "ip", "-j", "route", "show")) as {
      dst: string;
    }[];
    assert.ok(!routes.some((r) => r.dst === "default"), "no default route on an internal network");
    assert.ok(ping(nsName, net2.gateway!), "the gateway (DNS) is reachable");
    const a = (await mgr.inspect(net1.name)).endpoints!.find((e) => e.containerId === idA)!;
    assert.ok(!ping(nsA[0], g.ip), "a container on another network cannot reach it");
    assert.equal(
      (await mgr.inspect(net2.name)).endpoints![0]!.portMappings.length,
      0,
      "ports ignored on internal networks",
    );
    assert.ok(a.ip);

    await rejectsWith(mgr.remove(net2.name), "Conflict", /active endpoints \(golf\)/);
    await mgr.detach({ network: net2.name, containerId: idG });
    await mgr.remove(net2.name);
    assert.ok(!linkNames().includes(net2.bridge!), "bridge removed");
    const saved = sh("iptables-save");
    assert.ok(!saved.includes(net2.bridge!) && !saved.includes(net2.cniName!), "its rules removed");
    assert.ok(!existsSync(join(run.stateDir, "ipam", net2.cniName!)));
    assert.ok(!readdirSync(join(run.stateDir, "net.d")).includes(`${net2.cniName}.conflist`));
    await rejectsWith(mgr.inspect(net2.name), "NotFound");
  });

  it("two managers attaching at once share ports and subnets correctly", async () => {
    const other = await NetworkManager.open({ stateDir: run.stateDir, bridgePrefix: run.prefix });
    managers.push(other);
    const [n1, n2] = await Promise.all([
      mgr.create({ name: `p1-${run.rand}` }),
      other.create({ name: `p2-${run.rand}` }),
    ]);
    assert.notEqual(n1.subnet, n2.subnet);
    const [, p1] = run.netnsAdd("h1");
    const [, p2] = run.netnsAdd("h2");
    const port = randomPort();
    const results = await Promise.allSettled([
      mgr.attach({
        network: n1.name,
        containerId: "1".repeat(64),
        containerName: "h1",
        netnsPath: p1,
        portMappings: [{ hostPort: port, containerPort: 80, protocol: "tcp" }],
      }),
      other.attach({
        network: n2.name,
        containerId: "2".repeat(64),
        containerName: "h2",
        netnsPath: p2,
        portMappings: [{ hostPort: port, containerPort: 80, protocol: "tcp" }],
      }),
    ]);
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1, "exactly one gets the port");
    const failed = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    assert.ok(isKind(failed.reason, "Conflict"), String(failed.reason));
    // The loser, without the port; then: networks are isolated from each other.
    const [winner, loser] = results[0].status === "fulfilled" ? [n1, n2] : [n2, n1];
    const [wId, lId] = winner === n1 ? ["1".repeat(64), "2".repeat(64)] : ["2".repeat(64), "1".repeat(64)];
    const [wNs, lNs] = winner === n1 ? [p1, p2] : [p2, p1];
    const l = await other.attach({
      network: loser.name,
      containerId: lId,
      containerName: "loser",
      netnsPath: lNs,
    });
    const wName = wNs.slice("/run/netns/".length);
    assert.ok(ping(wName, winner.gateway!), "a container reaches its gateway");
    assert.ok(!ping(wName, l.ip), "but not a container on another network");
    await assert.rejects(
      shAsync("ip", "netns", "exec", wName, "busybox", "nslookup", "loser", loser.gateway!),
      /REFUSED/,
      "nor learn its names from its DNS server",
    );
    assert.match(
      await shAsync(
        "ip",
        "netns",
        "exec",
        lNs.slice("/run/netns/".length),
        "busybox",
        "nslookup",
        "loser",
        loser.gateway!,
      ),
      new RegExp(l.ip.replace(/\./g, "\\.")),
    );
    await mgr.detach({ network: winner.name, containerId: wId });
    await other.detach({ network: loser.name, containerId: lId });
    assert.deepEqual((await mgr.prune()).sort(), [n1.name, n2.name].sort());
    other.close();
  });

  it("two processes creating and attaching at once: distinct subnets, one port owner, consistent state", async () => {
    const port = randomPort();
    const workers = [1, 2].map((i) => {
      const [, path] = run.netnsAdd(`p${i}`);
      const script = `
        const { NetworkManager } = await import(${JSON.stringify(new URL("./manager.ts", import.meta.url).pathname)});
        const mgr = await NetworkManager.open({ stateDir: ${JSON.stringify(run.stateDir)}, bridgePrefix: ${JSON.stringify(run.prefix)} });
        const out = {};
        try {
          const n = await mgr.create({ name: "proc${i}-${run.rand}" });
          out.subnet = n.subnet;
          const a = await mgr.attach({ network: n.name, containerId: "e${i}".repeat(32),
            containerName: "p${i}", netnsPath: ${JSON.stringify(path)},
            portMappings: [{ hostPort: ${port}, containerPort: 80, protocol: "tcp" }] });
          out.ip = a.ip;
        } catch (err) { out.error = err.kind ?? String(err); }
        mgr.close();
        process.stdout.write(JSON.stringify(out));`;
      return shAsync(process.execPath, "--import", "tsx", "--input-type=module", "-e", script);
    });
    const outs = (await Promise.all(workers)).map(
      (o) => JSON.parse(o) as { subnet?: string; ip?: string; error?: string },
    );
    assert.ok(
      outs[0]!.subnet && outs[1]!.subnet && outs[0]!.subnet !== outs[1]!.subnet,
      JSON.stringify(outs),
    );
    assert.equal(outs.filter((o) => o.ip).length, 1, `one process got port ${port}: ${JSON.stringify(outs)}`);
    assert.deepEqual(
      outs.flatMap((o) => (o.error ? [o.error] : [])),
      ["Conflict"],
    );
    for (const i of [1, 2]) {
      const n = await mgr.inspect(`proc${i}-${run.rand}`);
      for (const e of n.endpoints!) await mgr.detach({ network: n.name, containerId: e.containerId });
      await mgr.remove(n.name);
    }
    assert.deepEqual(await mgr.check(), []);
  });

  it("a full subnet is a ResourceExhausted error from host-local, and nothing is left", async () => {
    const tiny = await mgr.create({
      name: `tiny-${run.rand}`,
      subnet: run.subnet(3).replace(/\/24$/, "/30"),
    });
    const [, p1] = run.netnsAdd("i1");
    const [, p2] = run.netnsAdd("i2");
    await mgr.attach({ network: tiny.name, containerId: "3".repeat(64), containerName: "i1", netnsPath: p1 });
    const links = linkNames().sort();
    const err = await rejectsWith(
      mgr.attach({ network: tiny.name, containerId: "4".repeat(64), containerName: "i2", netnsPath: p2 }),
      "ResourceExhausted",
      /connect container i2 to network tiny-.*: CNI bridge plugin could not set up the network: .*no IP addresses available/,
    );
    assert.ok((err as { hint?: string }).hint);
    assert.deepEqual(linkNames().sort(), links);
    assert.ok(!sh("iptables-save").includes("4".repeat(64)));
    assert.deepEqual(
      (await mgr.inspect(tiny.name)).endpoints!.map((e) => e.containerName),
      ["i1"],
    );
    await mgr.detach({ network: tiny.name, containerId: "3".repeat(64) });
    await mgr.remove(tiny.name);
  });

  it("restore() brings back a lost bridge (a reboot) and the DNS server listens again", async () => {
    const n = await mgr.create({ name: `rb-${run.rand}` });
    await dns!.refresh();
    assert.ok(dns!.addresses.includes(`${n.gateway}:53`));
    sh("ip", "link", "del", "dev", n.bridge!);
    await dns!.refresh();
    await mgr.restore();
    assert.ok(linkNames().includes(n.bridge!));
    await dns!.refresh();
    assert.deepEqual((await udpQuery(n.gateway!, "nothing-here.invalid")).addresses, ["203.0.113.7"]);
    await mgr.remove(n.name);
    await dns!.refresh();
    assert.ok(!dns!.addresses.includes(`${n.gateway}:53`));
  });

  it("tears everything down: detach all, remove the network, no leaks", async () => {
    await mgr.detach({ network: net1.name, containerId: idA });
    await mgr.detach({ network: net1.name, containerId: idB });
    await mgr.remove(net1.name);
    assert.deepEqual(await mgr.check(), []);
    assert.deepEqual(
      runLinks(run.prefix).filter((l) => l !== `${run.prefix}0`),
      [],
    );
  });
});
