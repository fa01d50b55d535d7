/**
 * The network layer's state: networks, endpoints and published ports in one
 * SQLite database (`<stateDir>/network.db`). Every check-then-write (a free
 * subnet, a free host port, one endpoint per container and network) runs in one
 * IMMEDIATE transaction, so several processes may attach and create at once.
 *
 * (The SQLite helper lives in the image layer for now; see its header.)
 */
import { join } from "node:path";
import { immediate, openDatabase, type Database } from "../common/sqlite.ts";
import type { EndpointRecord, NetworkDriver, NetworkRecord, PortMapping, Protocol } from "./types.ts";

const MIGRATIONS = [
  `CREATE TABLE networks (
     id TEXT PRIMARY KEY,
     name TEXT NOT NULL UNIQUE,
     driver TEXT NOT NULL,
     created TEXT NOT NULL,
     internal INTEGER NOT NULL DEFAULT 0,
     predefined INTEGER NOT NULL DEFAULT 0,
     dns INTEGER NOT NULL DEFAULT 0,
     labels TEXT NOT NULL DEFAULT '{}',
     subnet TEXT,
     gateway TEXT,
     bridge TEXT UNIQUE,
     mtu INTEGER,
     cni_name TEXT UNIQUE
   );
   CREATE TABLE endpoints (
     network_id TEXT NOT NULL REFERENCES networks(id),
     container_id TEXT NOT NULL,
     container_name TEXT NOT NULL,
     aliases TEXT NOT NULL DEFAULT '[]',
     if_name TEXT NOT NULL,
     netns TEXT NOT NULL,
     state TEXT NOT NULL,
     ip TEXT,
     prefix_len INTEGER,
     gateway TEXT,
     mac TEXT,
     host_veth TEXT,
     result TEXT,
     created TEXT NOT NULL,
     PRIMARY KEY (network_id, container_id)
   );
   CREATE TABLE ports (
     network_id TEXT NOT NULL,
     container_id TEXT NOT NULL,
     host_ip TEXT NOT NULL,
     host_port INTEGER NOT NULL,
     protocol TEXT NOT NULL,
     container_port INTEGER NOT NULL,
     PRIMARY KEY (host_ip, host_port, protocol),
     FOREIGN KEY (network_id, container_id) REFERENCES endpoints(network_id, container_id) ON DELETE CASCADE
   );`,
];

interface NetworkRow {
  id: string;
  name: string;
  driver: string;
  created: string;
  internal: number;
  predefined: number;
  dns: number;
  labels: string;
  subnet: string | null;
  gateway: string | null;
  bridge: string | null;
  mtu: number | null;
  cni_name: string | null;
}

interface EndpointRow {
  network_id: string;
  container_id: string;
  container_name: string;
  aliases: string;
  if_name: string;
  netns: string;
  state: string;
  ip: string | null;
  prefix_len: number | null;
  gateway: string | null;
  mac: string | null;
  host_veth: string | null;
  result: string | null;
  created: string;
}

interface PortRow {
  network_id: string;
  container_id: string;
  host_ip: string;
  host_port: number;
  protocol: string;
  container_port: number;
}

/** A port reservation together with the endpoint that holds it. */
export interface PortHolder extends PortMapping {
  networkId: string;
  containerId: string;
}

export class NetworkStore {
  readonly db: Database;

  constructor(stateDir: string) {
    this.db = openDatabase(join(stateDir, "network.db"), MIGRATIONS);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  /** Runs `fn` as one IMMEDIATE transaction (the write lock is held for all of it). */
  tx<T>(fn: () => T): T {
    return immediate(this.db, fn);
  }

  networks(): NetworkRecord[] {
    return this.db
      .prepare<NetworkRow>("SELECT * FROM networks ORDER BY predefined DESC, created, name")
      .all()
      .map(toNetwork);
  }

  network(id: string): NetworkRecord | undefined {
    const row = this.db.prepare<NetworkRow>("SELECT * FROM networks WHERE id = ?").get(id);
    return row && toNetwork(row);
  }

  networkByName(name: string): NetworkRecord | undefined {
    const row = this.db.prepare<NetworkRow>("SELECT * FROM networks WHERE name = ?").get(name);
    return row && toNetwork(row);
  }

  networksByIdPrefix(prefix: string): NetworkRecord[] {
    return this.db
      .prepare<NetworkRow>("SELECT * FROM networks WHERE substr(id, 1, ?) = ?")
      .all(prefix.length, prefix)
      .map(toNetwork);
  }

  insertNetwork(n: NetworkRecord): void {
    this.db
      .prepare(
        `INSERT INTO networks (id, name, driver, created, internal, predefined, dns, labels, subnet, gateway, bridge, mtu, cni_name)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        n.id,
        n.name,
        n.driver,
        n.created,
        n.internal ? 1 : 0,
        n.predefined ? 1 : 0,
        n.dns ? 1 : 0,
        JSON.stringify(n.labels),
        n.subnet ?? null,
        n.gateway ?? null,
        n.bridge ?? null,
        n.mtu ?? null,
        n.cniName ?? null,
      );
  }

  deleteNetwork(id: string): void {
    this.db.prepare("DELETE FROM networks WHERE id = ?").run(id);
  }

  endpoints(networkId?: string): EndpointRecord[] {
    const rows =
      networkId === undefined
        ? this.db.prepare<EndpointRow>("SELECT * FROM endpoints ORDER BY created").all()
        : this.db
            .prepare<EndpointRow>("SELECT * FROM endpoints WHERE network_id = ? ORDER BY created")
            .all(networkId);
    return rows.map((r) => this.toEndpoint(r));
  }

  endpoint(networkId: string, containerId: string): EndpointRecord | undefined {
    const row = this.db
      .prepare<EndpointRow>("SELECT * FROM endpoints WHERE network_id = ? AND container_id = ?")
      .get(networkId, containerId);
    return row && this.toEndpoint(row);
  }

  /** The stored CNI ADD result of an endpoint (the prevResult of its DEL and CHECK). */
  endpointResult(networkId: string, containerId: string): unknown {
    const row = this.db
      .prepare<{ result: string | null }>(
        "SELECT result FROM endpoints WHERE network_id = ? AND container_id = ?",
      )
      .get(networkId, containerId);
    return row?.result ? (JSON.parse(row.result) as unknown) : undefined;
  }

  insertEndpoint(e: EndpointRecord): void {
    this.db
      .prepare(
        `INSERT INTO endpoints (network_id, container_id, container_name, aliases, if_name, netns, state, created)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        e.networkId,
        e.containerId,
        e.containerName,
        JSON.stringify(e.aliases),
        e.ifName,
        e.netnsPath,
        e.state,
        e.created,
      );
    const put = this.db.prepare(
      `INSERT INTO ports (network_id, container_id, host_ip, host_port, protocol, container_port) VALUES (?, ?, ?, ?, ?, ?)`,
    );
    for (const p of e.portMappings) {
      put.run(e.networkId, e.containerId, p.hostIp ?? "", p.hostPort, p.protocol, p.containerPort);
    }
  }

  markAttached(
    networkId: string,
    containerId: string,
    a: {
      ip: string;
      prefixLen: number;
      gateway: string;
      mac: string;
      hostVeth: string | undefined;
      result: unknown;
    },
  ): void {
    this.db
      .prepare(
        `UPDATE endpoints SET state = 'attached', ip = ?, prefix_len = ?, gateway = ?, mac = ?, host_veth = ?, result = ?
         WHERE network_id = ? AND container_id = ?`,
      )
      .run(
        a.ip,
        a.prefixLen,
        a.gateway,
        a.mac,
        a.hostVeth ?? null,
        JSON.stringify(a.result),
        networkId,
        containerId,
      );
  }

  deleteEndpoint(networkId: string, containerId: string): void {
    this.db
      .prepare("DELETE FROM endpoints WHERE network_id = ? AND container_id = ?")
      .run(networkId, containerId);
  }

  /** Every port reservation, with its holder. */
  ports(): PortHolder[] {
    return this.db
      .prepare<PortRow>("SELECT * FROM ports ORDER BY host_port")
      .all()
      .map((r) => ({ ...toPort(r), networkId: r.network_id, containerId: r.container_id }));
  }

  private toEndpoint(r: EndpointRow): EndpointRecord {
    const ports = this.db
      .prepare<PortRow>("SELECT * FROM ports WHERE network_id = ? AND container_id = ? ORDER BY host_port")
      .all(r.network_id, r.container_id)
      .map(toPort);
    const e: EndpointRecord = {
      networkId: r.network_id,
      containerId: r.container_id,
      containerName: r.container_name,
      aliases: JSON.parse(r.aliases) as string[],
      ifName: r.if_name,
      netnsPath: r.netns,
      state: r.state === "attached" ? "attached" : "attaching",
      portMappings: ports,
      created: r.created,
    };
    if (r.ip !== null) e.ip = r.ip;
    if (r.prefix_len !== null) e.prefixLen = r.prefix_len;
    if (r.gateway !== null) e.gateway = r.gateway;
    if (r.mac !== null) e.mac = r.mac;
    if (r.host_veth !== null) e.hostVeth = r.host_veth;
    return e;
  }
}

function toPort(r: PortRow): PortMapping {
  const p: PortMapping = {
    hostPort: r.host_port,
    containerPort: r.container_port,
    protocol: r.protocol as Protocol,
  };
  if (r.host_ip !== "") p.hostIp = r.host_ip;
  return p;
}

function toNetwork(r: NetworkRow): NetworkRecord {
  const n: NetworkRecord = {
    id: r.id,
    name: r.name,
    driver: r.driver as NetworkDriver,
    scope: "local",
    created: r.created,
    internal: r.internal !== 0,
    predefined: r.predefined !== 0,
    labels: JSON.parse(r.labels) as Record<string, string>,
    dns: r.dns !== 0,
  };
  if (r.subnet !== null) n.subnet = r.subnet;
  if (r.gateway !== null) n.gateway = r.gateway;
  if (r.bridge !== null) n.bridge = r.bridge;
  if (r.mtu !== null) n.mtu = r.mtu;
  if (r.cni_name !== null) n.cniName = r.cni_name;
  return n;
}
