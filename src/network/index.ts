/**
 * The network layer: docker-style bridge networks on CNI plugins, published ports,
 * embedded DNS for user-defined networks, and leak checks. See manager.ts for the model.
 */
export {
  NetworkManager,
  type AttachOptions,
  type CreateOptions,
  type DetachOptions,
  type OpenOptions,
} from "./manager.ts";
export { startDnsServer, type DnsServer, type DnsServerOptions } from "./dns/server.ts";
export { createNetns, deleteNetns, netnsPath } from "./netns.ts";
export type { SubnetPool } from "./subnets.ts";
export type {
  AttachResult,
  EndpointRecord,
  Leak,
  NetworkDriver,
  NetworkRecord,
  PortMapping,
  Protocol,
} from "./types.ts";
