/** The network endpoints. */
import type {
  Network,
  NetworkConnectRequest,
  NetworkCreateRequest,
  NetworkCreateResponse,
  NetworkDisconnectRequest,
  NetworkPruneResponse,
} from "../container-types.ts";
import type { ApiClient } from "./client.ts";
import { filtersParam, type Filters } from "./filters.ts";

const p = (id: string) => `/networks/${encodeURIComponent(id)}`;

export class NetworksApi {
  constructor(private readonly c: ApiClient) {}

  list(filters?: Filters): Promise<Network[]> {
    return this.c.json("GET", "/networks", { query: { filters: filtersParam(filters) } });
  }

  inspect(id: string, opts: { verbose?: boolean; scope?: string } = {}): Promise<Network> {
    return this.c.json("GET", p(id), {
      query: { verbose: opts.verbose ? "true" : undefined, scope: opts.scope },
    });
  }

  create(body: NetworkCreateRequest): Promise<NetworkCreateResponse> {
    return this.c.json("POST", "/networks/create", { body });
  }

  async remove(id: string): Promise<void> {
    await this.c.empty("DELETE", p(id));
  }

  async connect(id: string, body: NetworkConnectRequest): Promise<void> {
    await this.c.empty("POST", `${p(id)}/connect`, { body });
  }

  async disconnect(id: string, body: NetworkDisconnectRequest): Promise<void> {
    await this.c.empty("POST", `${p(id)}/disconnect`, { body });
  }

  prune(filters?: Filters): Promise<NetworkPruneResponse> {
    return this.c.json("POST", "/networks/prune", { query: { filters: filtersParam(filters) } });
  }
}
