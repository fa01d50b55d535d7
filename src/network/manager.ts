/**
 * NetworkManager: docker-style networks on the CNI standard.
 *
 * Vocabulary
 *   network    a named Linux bridge with an IPv4 subnet (driver "bridge"), or one of the
 *              pseudo-networks "host" (share the host's namespace) and "none" (loopback
 *              only). "bridge", "host" and "none" always exist and cannot be removed; the
 *              default "bridge" has no DNS, user-defined networks do.
 *   endpoint   one container's interface on one network: a veth pair from the network's
 *              bridge into the container's network namespace, an address leased by
 *              host-local IPAM, published ports (DNAT rules). Key: (network, container id).
 *
 * State: SQLite (`<stateDir>/network.db`) for networks, endpoints, port reservations
 * and each endpoint's CNI ADD result; the conflists in `cniConfDir`; leases under
 * `<stateDir>/ipam`. Everything needed to tear an endpoint down is on disk, so detach
 * works after a restart and when the namespace is gone. Several processes may use
 * one state directory at once (transactions decide subnets, ports and endpoints).
 *
 * Lifecycle of an endpoint
 *   attach   reserve (endpoint row "attaching" + ports, refused on conflict) → ensure
 *            bridge and firewall rules → CNI ADD (bridge, portmap) → row "attached"
 *   detach   CNI DEL (cached result as prevResult) → sweep what the plugins leave when
 *            the namespace is gone (masquerade rules, the veth, the lease) → row deleted
 *
 * Example
 *   const mgr = await NetworkManager.open({ stateDir: "/var/lib/pier/network" });
 *   await mgr.create({ name: "web" });
 *   const ns = await createNetns("pier-3f2a");
 *   const ep = await mgr.attach({ network: "web", containerId: id, containerName: "api",
 *     netnsPath: ns, portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }] });
 *   writeFileSync(`${rootfs}/etc/resolv.conf`, mgr.resolvConfFor("web"));
 *   …
 *   await mgr.detach({ network: "web", containerId: id });
 *
 * Names on a network (DNS, `resolveName`): the container's name, its aliases and its
 * short id, also as "<name>.<network>". Published ports are ignored on internal
 * networks (as in docker). IPv4 only.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { PierError, invalid, notFound, notImplemented, wrap } from "../common/errors.ts";
import { CniRunner, type CniResult, type NetConfList, type RuntimeConf } from "./cni.ts";
import { buildConflist, readConflist, removeConflist, writeConflist } from "./conflist.ts";
import { ensureNetworkRules, removeNetworkRules } from "./firewall.ts";
import { cniChainsOf, cniOwnerOf, hasChain, removeRulesAndChains, save } from "./iptables.ts";
import { firstHost, formatCidr, formatIpv4, isHostIn, parseCidr, parseIpv4, type Cidr } from "./ipv4.ts";
import { listLeases, removeIpamDir, removeLease } from "./leases.ts";
import { defaultRouteMtu, deleteLink, ensureBridge, linkExists, listRoutes } from "./link.ts";
import { addressesCollide, forwardedPorts, hostSockets, pickFreePort } from "./ports.ts";
import { embeddedDnsResolvConf, hostDnsResolvConf, readResolvConf, renderResolvConf } from "./resolvconf.ts";
import { NetworkStore } from "./store.ts";
import { DEFAULT_POOLS, assertFree, occupied, pickSubnet, type SubnetPool } from "./subnets.ts";
import type { AttachResult, EndpointRecord, Leak, NetworkRecord, PortMapping, Protocol } from "./types.ts";
import { findLeaks, removeLeaks } from "./check.ts";

export interface OpenOptions {
  stateDir: string;
  /** Where the CNI plugins are (default /usr/lib/cni, Debian's containernetworking-plugins). */
  cniBinDir?: string;
  /** Where the conflists are written (default <stateDir>/net.d). */
  cniConfDir?: string;
  /**
   * Prefix of the bridges pier names (default "pier": "pier0" for the default network,
   * "pier-<id>" for the others; at most 8 characters). check() counts every bridge
   * called <prefix>0 or <prefix>-* as pier's, and every CNI rule of a network named <prefix>-*.
   */
  bridgePrefix?: string;
  /** The default "bridge" network, fixed the first time the state directory is opened. */
  defaultBridge?: { subnet?: string; gateway?: string; bridge?: string };
  /** Pools for subnets chosen automatically (default: docker's, 172.17–31/16 then 192.168/20s). */
  subnetPools?: SubnetPool[];
  /** The host's resolver configuration (default /etc/resolv.conf). */
  hostResolvConf?: string;
}

export interface CreateOptions {
  name: string;
  driver?: "bridge";
  /** IPv4 CIDR; chosen from the pools when absent. */
  subnet?: string;
  /** Default: the subnet's first address. */
  gateway?: string;
  internal?: boolean;
  labels?: Record<string, string>;
  /** The bridge interface's name (docker's com.docker.network.bridge.name), at most 15 characters. */
  bridgeName?: string;
  /** docker's com.docker.network.driver.mtu; default: the default route's interface MTU, at most 1500. */
  mtu?: number;
}

export interface AttachOptions {
  network: string;
  containerId: string;
  containerName: string;
  /** A network namespace file: /run/netns/NAME or /proc/PID/ns/net. */
  netnsPath: string;
  /** Default "eth0". A container on several networks needs one name per network. */
  ifName?: string;
  aliases?: string[];
  portMappings?: PortMapping[];
  /** A fixed IPv4 address inside the network's subnet (docker's --ip). */
  ip?: string;
  /** A fixed MAC address (docker's --mac-address). */
  mac?: string;
}

export interface DetachOptions {
  network: string;
  containerId: string;
  /** Default: the path given to attach. */
  netnsPath?: string;
  ifName?: string;
}

type Listener = (event: { type: "create" | "remove" | "attach" | "detach"; networkId: string }) => void;

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/;
const CONTAINER_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const MAC_RE = /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/;

export class NetworkManager {
  readonly stateDir: string;
  readonly cniBinDir: string;
  readonly cniConfDir: string;
  readonly ipamDir: string;
  readonly bridgePrefix: string;
  readonly hostResolvConf: string;
  /** @internal shared with check.ts */
  readonly store: NetworkStore;
  /** @internal */
  readonly cni: CniRunner;
  private readonly pools: SubnetPool[];
  private readonly listeners = new Set<Listener>();

  private constructor(opts: OpenOptions, prefix: string, store: NetworkStore) {
    this.stateDir = opts.stateDir;
    this.cniBinDir = opts.cniBinDir ?? "/usr/lib/cni";
    this.cniConfDir = opts.cniConfDir ?? join(opts.stateDir, "net.d");
    this.ipamDir = join(opts.stateDir, "ipam");
    this.bridgePrefix = prefix;
    this.hostResolvConf = opts.hostResolvConf ?? "/etc/resolv.conf";
    this.pools = opts.subnetPools ?? DEFAULT_POOLS;
    this.store = store;
    this.cni = new CniRunner(this.cniBinDir);
  }

  /** Opens (creating if needed) the state directory and the predefined networks. */
  static async open(opts: OpenOptions): Promise<NetworkManager> {
    const prefix = opts.bridgePrefix ?? "pier";
    if (!/^[a-z][a-z0-9]{0,7}$/.test(prefix)) {
      throw invalid(`invalid bridge prefix ${JSON.stringify(prefix)}: 1–8 lower-case letters and digits`);
    }
    mkdirSync(opts.stateDir, { recursive: true, mode: 0o700 });
    const store = new NetworkStore(opts.stateDir);
    const mgr = new NetworkManager(opts, prefix, store);
    try {
      await mgr.ensurePredefined(opts.defaultBridge ?? {});
    } catch (err) {
      store.close();
      throw err;
    }
    return mgr;
  }

  close(): void {
    this.store.close();
  }

  /** Called after every change made through this manager (the DNS server listens). */
  onChange(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(type: Parameters<Listener>[0]["type"], networkId: string): void {
    for (const fn of this.listeners) {
      try {
        fn({ type, networkId });
      } catch {
        // A listener's failure is its own business.
      }
    }
  }

  private async ensurePredefined(def: NonNullable<OpenOptions["defaultBridge"]>): Promise<void> {
    if (
      this.store.networkByName("bridge") &&
      this.store.networkByName("host") &&
      this.store.networkByName("none")
    )
      return;
    const routes = await listRoutes();
    const mtu = pickMtu(routes, undefined);
    this.store.tx(() => {
      const now = new Date().toISOString();
      if (!this.store.networkByName("bridge")) {
        const subnet = def.subnet
          ? parseCidr(def.subnet)
          : pickSubnet(this.pools, occupied(this.store.networks(), routes));
        const id = newId();
        this.store.insertNetwork({
          id,
          name: "bridge",
          driver: "bridge",
          scope: "local",
          created: now,
          internal: false,
          predefined: true,
          labels: {},
          dns: false,
          subnet: formatCidr(subnet),
          gateway: gatewayOf(subnet, def.gateway),
          bridge: def.bridge ?? `${this.bridgePrefix}0`,
          mtu,
          cniName: `${this.bridgePrefix}-${id.slice(0, 12)}`,
        });
      }
      for (const [name, driver] of [
        ["host", "host"],
        ["none", "null"],
      ] as const) {
        if (this.store.networkByName(name)) continue;
        this.store.insertNetwork({
          id: newId(),
          name,
          driver,
          scope: "local",
          created: now,
          internal: false,
          predefined: true,
          labels: {},
          dns: false,
        });
      }
    });
  }

  // ---- networks ----

  async create(o: CreateOptions): Promise<NetworkRecord> {
    if (!NAME_RE.test(o.name) || o.name.length > 128) {
      throw invalid(
        `invalid network name ${JSON.stringify(o.name)}`,
        "use letters, digits, '_', '.', '-', starting with a letter or digit",
      );
    }
    if (o.driver !== undefined && o.driver !== "bridge") {
      throw notImplemented(
        `network driver ${JSON.stringify(o.driver)} is not supported`,
        "pier supports the bridge driver",
      );
    }
    if (o.gateway !== undefined && o.subnet === undefined) {
      throw invalid("a gateway needs a subnet", "give --subnet along with --gateway");
    }
    const subnet = o.subnet === undefined ? undefined : parseCidr(o.subnet);
    if (subnet && (subnet.prefixLen < 8 || subnet.prefixLen > 30)) {
      throw invalid(`subnet ${o.subnet} must have a prefix length between /8 and /30`);
    }
    if (subnet) gatewayOf(subnet, o.gateway); // validates
    if (o.bridgeName !== undefined) {
      if (!IFNAME_RE.test(o.bridgeName))
        throw invalid(`invalid bridge name ${JSON.stringify(o.bridgeName)} (at most 15 characters)`);
      if (linkExists(o.bridgeName)) {
        throw new PierError("Conflict", `an interface called ${o.bridgeName} already exists on the host`, {
          hint: "choose another bridge name",
        });
      }
    }
    if (o.mtu !== undefined && (!Number.isInteger(o.mtu) || o.mtu < 68 || o.mtu > 65535)) {
      throw invalid(`invalid MTU ${o.mtu}`);
    }
    const routes = await listRoutes();
    const mtu = pickMtu(routes, o.mtu);

    const net = this.store.tx(() => {
      if (this.store.networkByName(o.name)) {
        throw new PierError("AlreadyExists", `network with name ${o.name} already exists`);
      }
      const taken = occupied(this.store.networks(), routes);
      let cidr: Cidr;
      if (subnet) {
        assertFree(subnet, taken);
        cidr = subnet;
      } else {
        cidr = pickSubnet(this.pools, taken);
      }
      const id = newId();
      const rec: NetworkRecord = {
        id,
        name: o.name,
        driver: "bridge",
        scope: "local",
        created: new Date().toISOString(),
        internal: o.internal ?? false,
        predefined: false,
        labels: { ...(o.labels ?? {}) },
        dns: true,
        subnet: formatCidr(cidr),
        gateway: gatewayOf(cidr, o.gateway),
        bridge: o.bridgeName ?? `${this.bridgePrefix}-${id.slice(0, 14 - this.bridgePrefix.length)}`,
        mtu,
        cniName: `${this.bridgePrefix}-${id.slice(0, 12)}`,
      };
      if (rec.bridge && this.store.networks().some((n) => n.bridge === rec.bridge)) {
        throw new PierError("Conflict", `bridge ${rec.bridge} is already used by another network`);
      }
      this.store.insertNetwork(rec);
      return rec;
    });

    try {
      this.conflistOf(net, true);
      await this.ensureKernelState(net);
    } catch (err) {
      await this.teardownNetwork(net).catch(() => {});
      this.store.tx(() => this.store.deleteNetwork(net.id));
      throw wrap(err, `create network ${o.name}`);
    }
    this.emit("create", net.id);
    return net;
  }

  async list(): Promise<NetworkRecord[]> {
    return this.store.networks();
  }

  /** By exact name, exact id, or unique id prefix; with its endpoints. */
  async inspect(ref: string): Promise<NetworkRecord> {
    const n = this.resolve(ref);
    return { ...n, endpoints: this.store.endpoints(n.id) };
  }

  /** Removes a user-defined network with no endpoints, its bridge, rules, leases and conflist. */
  async remove(ref: string): Promise<void> {
    const n = this.resolve(ref);
    if (n.predefined) {
      throw new PierError("PermissionDenied", `${n.name} is a pre-defined network and cannot be removed`);
    }
    this.store.tx(() => {
      const eps = this.store.endpoints(n.id);
      if (eps.length > 0) {
        const names = eps.map((e) => e.containerName).join(", ");
        throw new PierError("Conflict", `network ${n.name} has active endpoints (${names})`, {
          hint: `disconnect or remove those containers first (pier network disconnect ${n.name} CONTAINER)`,
        });
      }
      this.store.deleteNetwork(n.id);
    });
    this.emit("remove", n.id);
    try {
      await this.teardownNetwork(n);
    } catch (err) {
      throw new PierError(
        "Internal",
        `network ${n.name} was removed, but its cleanup failed: ${describeErr(err)}`,
        {
          cause: err,
          hint: "pier system prune removes what was left behind",
        },
      );
    }
  }

  /** Removes every user-defined network without endpoints; returns their names. */
  async prune(): Promise<string[]> {
    const removed: string[] = [];
    for (const n of this.store.networks()) {
      if (n.predefined || this.store.endpoints(n.id).length > 0) continue;
      try {
        await this.remove(n.id);
        removed.push(n.name);
      } catch (err) {
        if (err instanceof PierError && (err.kind === "Conflict" || err.kind === "NotFound")) continue;
        throw err;
      }
    }
    return removed;
  }

  /** Re-creates the bridges and firewall rules of the user-defined networks (after a reboot). */
  async restore(): Promise<void> {
    for (const n of this.store.networks()) {
      if (n.driver !== "bridge") continue;
      if (n.predefined && this.store.endpoints(n.id).length === 0) continue;
      await this.ensureKernelState(n);
    }
  }

  private resolve(ref: string): NetworkRecord {
    const n = this.store.networkByName(ref) ?? this.store.network(ref);
    if (n) return n;
    if (/^[0-9a-f]{1,63}$/.test(ref)) {
      const m = this.store.networksByIdPrefix(ref);
      if (m.length === 1) return m[0]!;
      if (m.length > 1)
        throw invalid(`network ${ref} is ambiguous (${m.length} matches found based on ID prefix)`);
    }
    throw notFound(`network ${ref} not found`);
  }

  private conflistOf(n: NetworkRecord, write = false): NetConfList {
    const cniName = n.cniName!;
    if (!write) {
      const onDisk = readConflist(this.cniConfDir, cniName);
      if (onDisk) return onDisk;
    }
    const list = buildConflist(n, this.ipamDir);
    writeConflist(this.cniConfDir, list);
    return list;
  }

  private async ensureKernelState(n: NetworkRecord): Promise<void> {
    const cidr = parseCidr(n.subnet!);
    await ensureBridge(n.bridge!, `${n.gateway}/${cidr.prefixLen}`, n.mtu);
    await ensureNetworkRules({
      bridge: n.bridge!,
      cniName: n.cniName!,
      internal: n.internal,
      bridgePrefix: this.bridgePrefix,
    });
  }

  private async teardownNetwork(n: NetworkRecord): Promise<void> {
    if (n.driver !== "bridge") return;
    const errors: unknown[] = [];
    const step = async (f: () => unknown): Promise<void> => {
      try {
        await f();
      } catch (err) {
        errors.push(err);
      }
    };
    await step(() => deleteLink(n.bridge!));
    await step(() => removeNetworkRules(n.cniName!));
    await step(() => removeIpamDir(this.ipamDir, n.cniName!));
    await step(() => removeConflist(this.cniConfDir, n.cniName!));
    if (errors.length > 0) throw errors[0];
  }

  // ---- endpoints ----

  async attach(o: AttachOptions): Promise<AttachResult> {
    const n = this.resolve(o.network);
    if (n.driver !== "bridge") {
      throw invalid(
        `network ${n.name} has no endpoints`,
        n.name === "none"
          ? "a container on the none network has only loopback: call setupLoopback"
          : "a container on the host network shares the host's network namespace",
      );
    }
    const ifName = o.ifName ?? "eth0";
    if (!IFNAME_RE.test(ifName)) throw invalid(`invalid interface name ${JSON.stringify(ifName)}`);
    if (!CONTAINER_ID_RE.test(o.containerId))
      throw invalid(`invalid container id ${JSON.stringify(o.containerId)}`);
    if (!existsSync(o.netnsPath)) throw notFound(`network namespace ${o.netnsPath} does not exist`);
    const containerName = o.containerName.replace(/^\//, "");
    const aliases = [...new Set((o.aliases ?? []).map((a) => a.trim()).filter((a) => a !== ""))];
    for (const a of aliases)
      if (!/^[A-Za-z0-9_.-]{1,253}$/.test(a)) throw invalid(`invalid alias ${JSON.stringify(a)}`);
    const cidr = parseCidr(n.subnet!);
    if (o.ip !== undefined) {
      const ip = parseIpv4(o.ip, "IP address");
      if (!isHostIn(cidr, ip) || o.ip === n.gateway) {
        throw invalid(`address ${o.ip} is not a free host address of network ${n.name} (${n.subnet})`);
      }
    }
    if (o.mac !== undefined && !MAC_RE.test(o.mac))
      throw invalid(`invalid MAC address ${JSON.stringify(o.mac)}`);
    const ports = n.internal ? [] : normalizePorts(o.portMappings ?? []);
    if (ports.length > 0) await this.assertPortsFreeOnHost(ports);

    const endpoint: EndpointRecord = {
      networkId: n.id,
      containerId: o.containerId,
      containerName,
      aliases,
      ifName,
      netnsPath: o.netnsPath,
      state: "attaching",
      portMappings: ports,
      created: new Date().toISOString(),
    };
    this.store.tx(() => {
      if (!this.store.network(n.id)) throw notFound(`network ${o.network} not found`);
      if (this.store.endpoint(n.id, o.containerId)) {
        throw new PierError(
          "AlreadyExists",
          `container ${containerName} is already attached to network ${n.name}`,
        );
      }
      const sameIf = this.store.endpoints().find((e) => e.netnsPath === o.netnsPath && e.ifName === ifName);
      if (sameIf) {
        throw new PierError(
          "Conflict",
          `${ifName} in ${o.netnsPath} is already used by another network's endpoint`,
          {
            hint: "give each network of a container its own interface name (eth0, eth1, …)",
          },
        );
      }
      this.assertPortsFreeInStore(ports);
      this.store.insertEndpoint(endpoint);
    });

    const rt = this.runtimeConf(endpoint, o.netnsPath, o.ip, o.mac);
    let result: CniResult;
    let r: ReturnType<typeof readResult>;
    try {
      await this.ensureKernelState(n);
      result = await this.cni.add(this.conflistOf(n), rt);
      r = readResult(result, ifName, n);
      const res = result;
      this.store.tx(() => this.store.markAttached(n.id, o.containerId, { ...r, result: res }));
    } catch (err) {
      await this.undoAttach(n, endpoint, rt).catch(() => {});
      throw wrap(err, `connect container ${containerName} to network ${n.name}`);
    }
    this.emit("attach", n.id);
    return { ip: r.ip, prefixLen: r.prefixLen, gateway: r.gateway, mac: r.mac, ifName, networkId: n.id };
  }

  /** Tears the endpoint down; a missing endpoint is fine (idempotent). */
  async detach(o: DetachOptions): Promise<void> {
    const n = this.resolve(o.network);
    const e = this.store.endpoint(n.id, o.containerId);
    if (!e) return;
    const netns = o.netnsPath ?? e.netnsPath;
    const rt = this.runtimeConf({ ...e, ifName: o.ifName ?? e.ifName }, existsSync(netns) ? netns : "");
    try {
      await this.teardownEndpoint(n, e, rt);
    } catch (err) {
      throw wrap(err, `disconnect container ${e.containerName} from network ${n.name}`);
    }
    this.store.tx(() => this.store.deleteEndpoint(n.id, e.containerId));
    this.emit("detach", n.id);
  }

  /** CNI CHECK of an endpoint: the plugins verify that what ADD made is still there. */
  async checkEndpoint(o: { network: string; containerId: string }): Promise<void> {
    const n = this.resolve(o.network);
    const e = this.store.endpoint(n.id, o.containerId);
    if (!e || e.state !== "attached")
      throw notFound(`container ${o.containerId} is not attached to network ${n.name}`);
    const prev = this.store.endpointResult(n.id, e.containerId);
    await this.cni.check(this.conflistOf(n), this.runtimeConf(e, e.netnsPath), prev);
  }

  /** Brings up `lo` in a namespace (the loopback plugin), for containers on any network. */
  async setupLoopback(netnsPath: string): Promise<void> {
    if (!existsSync(netnsPath)) throw notFound(`network namespace ${netnsPath} does not exist`);
    const conf = { cniVersion: "1.0.0", name: "pier-loopback", type: "loopback" };
    await this.cni.invoke("ADD", conf, { containerId: "pier-loopback", netns: netnsPath, ifName: "lo" });
  }

  private runtimeConf(e: EndpointRecord, netns: string, ip?: string, mac?: string): RuntimeConf {
    const args: [string, string][] = [];
    if (ip !== undefined) args.push(["IP", ip]);
    if (mac !== undefined) args.push(["MAC", mac]);
    return {
      containerId: e.containerId,
      netns,
      ifName: e.ifName,
      args,
      capabilityArgs: {
        portMappings: e.portMappings.map((p) => ({
          hostPort: p.hostPort,
          containerPort: p.containerPort,
          protocol: p.protocol,
          hostIP: p.hostIp ?? "",
        })),
      },
    };
  }

  private async undoAttach(n: NetworkRecord, e: EndpointRecord, rt: RuntimeConf): Promise<void> {
    try {
      await this.teardownEndpoint(n, e, rt);
    } finally {
      this.store.tx(() => this.store.deleteEndpoint(n.id, e.containerId));
    }
  }

  /**
   * CNI DEL, then removal of whatever is still there: the bridge plugin (1.1) leaves its
   * masquerade rules when the namespace is gone, and a DEL may fail half way. What is
   * left afterwards decides success, not the plugins' exit status.
   */
  private async teardownEndpoint(n: NetworkRecord, e: EndpointRecord, rt: RuntimeConf): Promise<void> {
    let delErr: unknown;
    try {
      await this.cni.del(this.conflistOf(n), rt, this.store.endpointResult(n.id, e.containerId));
    } catch (err) {
      delErr = err;
    }
    const leftovers = await this.sweepEndpoint(n, e);
    if (leftovers.length > 0) {
      throw new PierError(
        "Internal",
        `could not remove ${leftovers.join(", ")}${delErr ? ` (${describeErr(delErr)})` : ""}`,
        {
          ...(delErr ? { cause: delErr } : {}),
        },
      );
    }
  }

  /** Removes the endpoint's rules, chains, lease and host veth if still there; returns what could not be removed. */
  private async sweepEndpoint(n: NetworkRecord, e: EndpointRecord): Promise<string[]> {
    const cniName = n.cniName!;
    const failed: string[] = [];
    const chains = cniChainsOf(cniName, e.containerId);
    try {
      await removeRulesAndChains((rs) => ({
        rules: rs.rules.filter((r) => {
          const owner = cniOwnerOf(r.comment);
          return owner?.net === cniName && owner.containerId === e.containerId;
        }),
        chains: [chains.masq, chains.dnat]
          .filter((c) => hasChain(rs, "nat", c))
          .map((chain) => ({ table: "nat", chain })),
      }));
    } catch (err) {
      failed.push(`iptables rules (${describeErr(err)})`);
    }
    for (const lease of listLeases(this.ipamDir, cniName)) {
      if (lease.containerId === e.containerId) removeLease(lease.path);
    }
    if (e.hostVeth !== undefined && linkExists(e.hostVeth)) {
      try {
        await deleteLink(e.hostVeth);
      } catch (err) {
        failed.push(`veth ${e.hostVeth} (${describeErr(err)})`);
      }
    }
    return failed;
  }

  // ---- ports ----

  private async assertPortsFreeOnHost(ports: PortMapping[]): Promise<void> {
    const sockets = hostSockets();
    const known = new Set(
      this.store.endpoints().map((e) => `${this.store.network(e.networkId)?.cniName}\n${e.containerId}`),
    );
    const forwards = forwardedPorts(await save()).filter(
      (f) => f.cniName === undefined || !known.has(`${f.cniName}\n${f.containerId}`),
    );
    for (const p of ports) {
      const hostIp = p.hostIp ?? "";
      const s = sockets.find(
        (s) => s.protocol === p.protocol && s.port === p.hostPort && addressesCollide(hostIp, s.ip),
      );
      if (s) {
        throw new PierError(
          "Conflict",
          `port ${p.hostPort}/${p.protocol} is already in use on the host: a process ${p.protocol === "tcp" ? "listens on" : "has bound"} ${s.ip.includes(":") ? `[${s.ip}]` : s.ip}:${s.port}`,
          {
            hint: `stop that process, or publish another host port (e.g. -p ${p.hostPort + 1}:${p.containerPort})`,
          },
        );
      }
      const f = forwards.find((f) => f.protocol === p.protocol && f.port === p.hostPort);
      if (f) {
        throw new PierError(
          "Conflict",
          `port ${p.hostPort}/${p.protocol} is already forwarded by ${f.owner}`,
          {
            hint: `publish another host port, or remove what forwards it${f.cniName?.startsWith(`${this.bridgePrefix}-`) ? " (pier system prune removes stale rules)" : ""}`,
          },
        );
      }
    }
  }

  private assertPortsFreeInStore(ports: PortMapping[]): void {
    if (ports.length === 0) return;
    const held = this.store.ports();
    for (const p of ports) {
      const h = held.find(
        (h) =>
          h.protocol === p.protocol &&
          h.hostPort === p.hostPort &&
          addressesCollide(p.hostIp ?? "", h.hostIp ?? ""),
      );
      if (!h) continue;
      const e = this.store.endpoint(h.networkId, h.containerId);
      const net = this.store.network(h.networkId);
      throw new PierError(
        "Conflict",
        `port ${p.hostPort}/${p.protocol} is already in use: container ${e?.containerName ?? "?"} (${h.containerId.slice(0, 12)}) publishes it on network ${net?.name ?? h.networkId.slice(0, 12)}`,
        {
          hint: `stop that container, or publish another host port (e.g. -p ${p.hostPort + 1}:${p.containerPort})`,
        },
      );
    }
  }

  /** A host port free right now for `protocol` (not listened on, not published by pier). */
  async freeHostPort(protocol: Protocol = "tcp", hostIp = ""): Promise<number> {
    const held = this.store.ports();
    const forwards = forwardedPorts(await save());
    return pickFreePort(
      protocol,
      hostIp,
      (port) =>
        held.some((h) => h.protocol === protocol && h.hostPort === port) ||
        forwards.some((f) => f.protocol === protocol && f.port === port),
    );
  }

  // ---- DNS ----

  /** The /etc/resolv.conf for a container whose first network is `network`. */
  resolvConfFor(network: string): string {
    const n = this.resolve(network);
    const host = readResolvConf(this.hostResolvConf);
    if (n.driver === "host") return renderResolvConf(host);
    if (n.dns && n.gateway) return embeddedDnsResolvConf(host, n.gateway);
    return hostDnsResolvConf(host);
  }

  /**
   * The addresses `name` has on `network` (by name, id or id prefix): containers' names,
   * aliases and short ids, also as "<name>.<network>"; case-insensitive. [] when unknown,
   * and always [] on networks without DNS.
   */
  resolveName(network: string, name: string): string[] {
    let n: NetworkRecord;
    try {
      n = this.resolve(network);
    } catch {
      return [];
    }
    if (!n.dns) return [];
    let q = name.toLowerCase().replace(/\.$/, "");
    const suffix = `.${n.name.toLowerCase()}`;
    if (q.endsWith(suffix)) q = q.slice(0, -suffix.length);
    if (q === "") return [];
    const ips: string[] = [];
    for (const e of this.store.endpoints(n.id)) {
      if (e.state !== "attached" || e.ip === undefined) continue;
      const names = [e.containerName, ...e.aliases].map((s) => s.toLowerCase());
      const id = e.containerId.toLowerCase();
      if (names.includes(q) || id === q || (q.length >= 12 && id.startsWith(q)) || id.slice(0, 12) === q) {
        if (!ips.includes(e.ip)) ips.push(e.ip);
      }
    }
    return ips;
  }

  // ---- leaks ----

  /** What belongs to pier's networking but to no known network or endpoint. */
  async check(): Promise<Leak[]> {
    return findLeaks(this);
  }

  /** Removes the given leaks (those still leaking when looked at again). */
  async cleanup(leaks: Leak[]): Promise<void> {
    await removeLeaks(this, leaks, (networkId, containerId) => this.detachById(networkId, containerId));
  }

  private async detachById(networkId: string, containerId: string): Promise<void> {
    await this.detach({ network: networkId, containerId });
  }
}

function newId(): string {
  return randomBytes(32).toString("hex");
}

function gatewayOf(subnet: Cidr, gateway: string | undefined): string {
  if (gateway === undefined) return formatIpv4(firstHost(subnet));
  const gw = parseIpv4(gateway, "gateway");
  if (!isHostIn(subnet, gw))
    throw invalid(`gateway ${gateway} is not a host address of subnet ${formatCidr(subnet)}`);
  return gateway;
}

function pickMtu(routes: Awaited<ReturnType<typeof listRoutes>>, wanted: number | undefined): number {
  if (wanted !== undefined) return wanted;
  return Math.min(1500, defaultRouteMtu(routes) ?? 1500);
}

function normalizePorts(ports: PortMapping[]): PortMapping[] {
  const out: PortMapping[] = [];
  for (const p of ports) {
    const proto = p.protocol ?? "tcp";
    if (proto !== "tcp" && proto !== "udp")
      throw notImplemented(`publishing ${String(proto)} ports is not supported (tcp and udp are)`);
    for (const [what, v] of [
      ["host port", p.hostPort],
      ["container port", p.containerPort],
    ] as const) {
      if (!Number.isInteger(v) || v < 1 || v > 65535) {
        throw invalid(
          `invalid ${what} ${v}`,
          what === "host port" && v === 0
            ? "choose a host port (NetworkManager.freeHostPort finds a free one)"
            : undefined,
        );
      }
    }
    let hostIp = p.hostIp ?? "";
    if (hostIp === "0.0.0.0") hostIp = "";
    if (hostIp.includes(":")) throw notImplemented(`publishing on IPv6 address ${hostIp} is not supported`);
    if (hostIp !== "") parseIpv4(hostIp, "host IP");
    const dup = out.find(
      (q) => q.protocol === proto && q.hostPort === p.hostPort && addressesCollide(hostIp, q.hostIp ?? ""),
    );
    if (dup) throw invalid(`host port ${p.hostPort}/${proto} is published twice`);
    const m: PortMapping = { hostPort: p.hostPort, containerPort: p.containerPort, protocol: proto };
    if (hostIp !== "") m.hostIp = hostIp;
    out.push(m);
  }
  return out;
}

function readResult(
  result: CniResult,
  ifName: string,
  n: NetworkRecord,
): { ip: string; prefixLen: number; gateway: string; mac: string; hostVeth: string | undefined } {
  const ifaces = result.interfaces ?? [];
  const idx = ifaces.findIndex((i) => i.name === ifName && i.sandbox);
  const entry = (result.ips ?? []).find((ip) => ip.interface === idx) ?? result.ips?.[0];
  if (!entry) throw new PierError("Internal", `CNI result for ${ifName} carries no address`);
  const [ip = "", len = "32"] = entry.address.split("/");
  return {
    ip,
    prefixLen: Number(len),
    gateway: entry.gateway ?? n.gateway ?? "",
    mac: ifaces[idx]?.mac ?? "",
    hostVeth: ifaces.find((i) => !i.sandbox && i.name !== n.bridge)?.name,
  };
}

function describeErr(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
