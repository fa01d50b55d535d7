/** The records the network layer hands out. Docker's vocabulary, pier's shapes. */

export type NetworkDriver = "bridge" | "host" | "null";

export interface NetworkRecord {
  /** 64 hex digits. */
  id: string;
  /** Unique; "bridge", "host" and "none" are the predefined networks. */
  name: string;
  /** "bridge" for pier-managed bridges, "host" and "null" (the network called "none") for the pseudo-networks. */
  driver: NetworkDriver;
  scope: "local";
  /** RFC 3339. */
  created: string;
  /** No route out of the network, no masquerading, no published ports (docker's `--internal`). */
  internal: boolean;
  /** bridge, host and none: cannot be removed. */
  predefined: boolean;
  labels: Record<string, string>;
  /** Whether pier's embedded DNS serves this network (user-defined bridge networks only, as in docker). */
  dns: boolean;
  /** Bridge networks only: the IPv4 subnet in CIDR form, e.g. "10.89.3.0/24". */
  subnet?: string;
  /** Bridge networks only: the bridge's address, the containers' default gateway and DNS server. */
  gateway?: string;
  /** Bridge networks only: the Linux bridge interface (e.g. "pier0", "pier-3f2a9c01d2"). */
  bridge?: string;
  mtu?: number;
  /** Bridge networks only: the CNI network name (in iptables comments and the IPAM directory). */
  cniName?: string;
  /** Filled in by `inspect`. */
  endpoints?: EndpointRecord[];
}

export type Protocol = "tcp" | "udp";

export interface PortMapping {
  /** Host address to publish on; "" or "0.0.0.0" means every address. */
  hostIp?: string;
  hostPort: number;
  containerPort: number;
  protocol: Protocol;
}

export interface EndpointRecord {
  networkId: string;
  containerId: string;
  containerName: string;
  aliases: string[];
  ifName: string;
  netnsPath: string;
  /** "attaching" while CNI ADD runs (or if a process died in it), then "attached". */
  state: "attaching" | "attached";
  ip?: string;
  prefixLen?: number;
  gateway?: string;
  mac?: string;
  /** The host side of the veth pair. */
  hostVeth?: string;
  portMappings: PortMapping[];
  created: string;
}

export interface AttachResult {
  ip: string;
  prefixLen: number;
  gateway: string;
  mac: string;
  ifName: string;
  networkId: string;
}

/**
 * Something in the kernel or on disk that belongs to pier's networking but to no
 * known endpoint or network. `description` reads well on its own.
 */
export type Leak =
  | { kind: "bridge"; name: string; description: string }
  | { kind: "veth"; name: string; bridge: string; description: string }
  | { kind: "lease"; cniName: string; ip: string; containerId: string; path: string; description: string }
  | { kind: "ipam-dir"; cniName: string; path: string; description: string }
  | { kind: "conflist"; path: string; description: string }
  | {
      kind: "iptables-rule";
      table: string;
      chain: string;
      /** The rule as iptables-save prints it ("-A CHAIN …"). */
      rule: string;
      description: string;
    }
  | { kind: "iptables-chain"; table: string; chain: string; description: string }
  | {
      kind: "endpoint";
      networkId: string;
      network: string;
      containerId: string;
      description: string;
    };
