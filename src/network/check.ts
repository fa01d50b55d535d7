/**
 * Leaks: what pier's networking made that no known network or endpoint owns.
 *
 *   bridge          <prefix>0 / <prefix>-* bridges of no network
 *   veth            a veth on a pier bridge that is no endpoint's host side
 *   lease, ipam-dir host-local leases of no endpoint; IPAM directories of no network
 *   conflist        <prefix>-*.conflist of no network
 *   iptables-rule   rules whose CNI comment names a <prefix>-* network and a container
 *                   with no endpoint there; PIER-FORWARD rules of no network
 *   iptables-chain  the per-endpoint CNI chains of such containers
 *   endpoint        an endpoint whose namespace is gone, or stuck in "attaching"
 *                   (its process died during ADD); cleaned up by a full detach
 *
 * A network with an endpoint still attaching (ADD running in some process) is
 * left alone: its new veth has no owner on record yet.
 */
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { FORWARD_CHAIN } from "./firewall.ts";
import { cniChainsOf, cniOwnerOf, hasChain, removeRulesAndChains, save, type Rule } from "./iptables.ts";
import { ipamNetworks, listLeases, removeIpamDir, removeLease } from "./leases.ts";
import { deleteLink, listLinks } from "./link.ts";
import type { NetworkManager } from "./manager.ts";
import type { Leak } from "./types.ts";

/** An endpoint this long in "attaching" is taken for one whose process died. */
const STUCK_MS = 120_000;

export async function findLeaks(mgr: NetworkManager): Promise<Leak[]> {
  const leaks: Leak[] = [];
  const prefix = mgr.bridgePrefix;
  const networks = mgr.store.networks();
  const endpoints = mgr.store.endpoints();
  const byCni = new Map(networks.flatMap((n) => (n.cniName ? [[n.cniName, n] as const] : [])));
  const ownBridges = new Set(networks.flatMap((n) => (n.bridge ? [n.bridge] : [])));
  const ours = (bridge: string): boolean => bridge === `${prefix}0` || bridge.startsWith(`${prefix}-`);
  const endpointKeys = new Set(endpoints.map((e) => `${e.networkId}\n${e.containerId}`));
  const hasEndpoint = (cniName: string, containerId: string): boolean => {
    const n = byCni.get(cniName);
    return n !== undefined && endpointKeys.has(`${n.id}\n${containerId}`);
  };
  const busy = new Set(endpoints.filter((e) => e.state === "attaching").map((e) => e.networkId));

  // Endpoints whose container is gone or whose attach never finished.
  for (const e of endpoints) {
    const n = networks.find((x) => x.id === e.networkId);
    const name = n?.name ?? e.networkId.slice(0, 12);
    if (e.state === "attaching" && Date.now() - Date.parse(e.created) > STUCK_MS) {
      leaks.push({
        kind: "endpoint",
        networkId: e.networkId,
        network: name,
        containerId: e.containerId,
        description: `endpoint of container ${e.containerName} on network ${name} never finished attaching`,
      });
    } else if (e.state === "attached" && !existsSync(e.netnsPath)) {
      leaks.push({
        kind: "endpoint",
        networkId: e.networkId,
        network: name,
        containerId: e.containerId,
        description: `endpoint of container ${e.containerName} on network ${name}: its namespace ${e.netnsPath} is gone`,
      });
    }
  }

  // Links.
  const links = await listLinks();
  const hostVeths = new Set(endpoints.flatMap((e) => (e.hostVeth ? [e.hostVeth] : [])));
  for (const l of links) {
    if (l.kind === "bridge" && ours(l.name) && !ownBridges.has(l.name)) {
      leaks.push({ kind: "bridge", name: l.name, description: `bridge ${l.name} belongs to no network` });
    }
  }
  for (const l of links) {
    if (l.kind !== "veth" || l.master === undefined || hostVeths.has(l.name)) continue;
    const net = networks.find((n) => n.bridge === l.master);
    if (net ? busy.has(net.id) : !ours(l.master)) continue;
    leaks.push({
      kind: "veth",
      name: l.name,
      bridge: l.master,
      description: `veth ${l.name} on bridge ${l.master} belongs to no endpoint`,
    });
  }

  // host-local leases and directories.
  const leakedPairs = new Set<string>();
  for (const cniName of ipamNetworks(mgr.ipamDir)) {
    const n = byCni.get(cniName);
    if (!n) {
      leaks.push({
        kind: "ipam-dir",
        cniName,
        path: join(mgr.ipamDir, cniName),
        description: `IPAM directory ${join(mgr.ipamDir, cniName)} belongs to no network`,
      });
      for (const l of listLeases(mgr.ipamDir, cniName)) leakedPairs.add(`${cniName}\n${l.containerId}`);
      continue;
    }
    if (busy.has(n.id)) continue;
    for (const l of listLeases(mgr.ipamDir, cniName)) {
      if (hasEndpoint(cniName, l.containerId)) continue;
      leakedPairs.add(`${cniName}\n${l.containerId}`);
      leaks.push({
        kind: "lease",
        cniName,
        ip: l.ip,
        containerId: l.containerId,
        path: l.path,
        description: `address ${l.ip} on network ${n.name} is leased to ${l.containerId.slice(0, 12)}, which has no endpoint`,
      });
    }
  }

  // Conflists.
  let confs: string[] = [];
  try {
    confs = readdirSync(mgr.cniConfDir);
  } catch {
    // none yet
  }
  for (const f of confs) {
    const m = /^(.+)\.conflist$/.exec(f);
    if (!m || !m[1]!.startsWith(`${prefix}-`) || byCni.has(m[1]!)) continue;
    const path = join(mgr.cniConfDir, f);
    leaks.push({ kind: "conflist", path, description: `CNI configuration ${path} belongs to no network` });
  }

  // iptables.
  const rs = await save();
  const chainLeaks = new Map<string, { table: string; chain: string }>();
  const ruleLeak = (r: Rule, why: string): void => {
    leaks.push({ kind: "iptables-rule", table: r.table, chain: r.chain, rule: r.line, description: why });
  };
  for (const r of rs.rules) {
    const owner = cniOwnerOf(r.comment);
    if (owner && owner.net.startsWith(`${prefix}-`) && !hasEndpoint(owner.net, owner.containerId)) {
      const n = byCni.get(owner.net);
      if (n && busy.has(n.id)) continue;
      leakedPairs.add(`${owner.net}\n${owner.containerId}`);
      ruleLeak(
        r,
        `${r.table} rule in ${r.chain} for container ${owner.containerId.slice(0, 12)} on ${n ? `network ${n.name}` : `removed network ${owner.net}`}`,
      );
      continue;
    }
    if (r.table === "filter" && r.chain === FORWARD_CHAIN && r.comment?.startsWith(`pier:${prefix}-`)) {
      const cniName = r.comment.slice("pier:".length);
      if (!byCni.has(cniName)) ruleLeak(r, `filter rule in ${FORWARD_CHAIN} for removed network ${cniName}`);
    }
  }
  for (const pair of leakedPairs) {
    const [net = "", containerId = ""] = pair.split("\n");
    for (const chain of Object.values(cniChainsOf(net, containerId))) {
      if (hasChain(rs, "nat", chain)) chainLeaks.set(`nat ${chain}`, { table: "nat", chain });
    }
  }
  for (const c of chainLeaks.values()) {
    leaks.push({
      kind: "iptables-chain",
      table: c.table,
      chain: c.chain,
      description: `${c.table} chain ${c.chain} of a removed endpoint`,
    });
  }
  return leaks;
}

function keyOf(l: Leak): string {
  switch (l.kind) {
    case "bridge":
    case "veth":
      return `${l.kind} ${l.name}`;
    case "lease":
    case "ipam-dir":
    case "conflist":
      return `${l.kind} ${l.path}`;
    case "iptables-rule":
      return `${l.kind} ${l.table} ${l.rule}`;
    case "iptables-chain":
      return `${l.kind} ${l.table} ${l.chain}`;
    case "endpoint":
      return `${l.kind} ${l.networkId} ${l.containerId}`;
  }
}

/**
 * Removes `leaks`, each only if a fresh check still reports it (it may have been
 * claimed or removed meanwhile). Endpoints go first (a full detach), then rules
 * and chains in one transaction, then links and files.
 */
export async function removeLeaks(
  mgr: NetworkManager,
  leaks: Leak[],
  detach: (networkId: string, containerId: string) => Promise<void>,
): Promise<void> {
  const wanted = new Set(leaks.map(keyOf));
  const errors: unknown[] = [];
  const attempt = async (f: () => unknown): Promise<void> => {
    try {
      await f();
    } catch (err) {
      errors.push(err);
    }
  };
  for (const l of await findLeaks(mgr)) {
    if (l.kind === "endpoint" && wanted.has(keyOf(l)))
      await attempt(() => detach(l.networkId, l.containerId));
  }
  const current = (await findLeaks(mgr)).filter((l) => wanted.has(keyOf(l)));
  const rules = new Set(current.flatMap((l) => (l.kind === "iptables-rule" ? [`${l.table} ${l.rule}`] : [])));
  const chains = current.flatMap((l) =>
    l.kind === "iptables-chain" ? [{ table: l.table, chain: l.chain }] : [],
  );
  if (rules.size > 0 || chains.length > 0) {
    await attempt(() =>
      removeRulesAndChains((rs) => ({
        rules: rs.rules.filter((r) => rules.has(`${r.table} ${r.line}`)),
        chains: chains.filter((c) => hasChain(rs, c.table, c.chain)),
      })),
    );
  }
  for (const l of current) {
    if (l.kind === "veth") await attempt(() => deleteLink(l.name));
  }
  for (const l of current) {
    switch (l.kind) {
      case "bridge":
        await attempt(() => deleteLink(l.name));
        break;
      case "lease":
        removeLease(l.path);
        break;
      case "ipam-dir":
        removeIpamDir(mgr.ipamDir, l.cniName);
        break;
      case "conflist":
        rmSync(l.path, { force: true });
        break;
      default:
        break;
    }
  }
  if (errors.length > 0) throw errors[0];
}
