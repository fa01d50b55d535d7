/** The volume endpoints. */
import type {
  Volume,
  VolumeCreateRequest,
  VolumeListResponse,
  VolumePruneResponse,
} from "../container-types.ts";
import type { ApiClient } from "./client.ts";
import { filtersParam, type Filters } from "./filters.ts";

export class VolumesApi {
  constructor(private readonly c: ApiClient) {}

  list(filters?: Filters): Promise<VolumeListResponse> {
    return this.c.json("GET", "/volumes", { query: { filters: filtersParam(filters) } });
  }

  create(body: VolumeCreateRequest): Promise<Volume> {
    return this.c.json("POST", "/volumes/create", { body });
  }

  inspect(name: string): Promise<Volume> {
    return this.c.json("GET", `/volumes/${encodeURIComponent(name)}`);
  }

  async remove(name: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.c.empty("DELETE", `/volumes/${encodeURIComponent(name)}`, {
      query: { force: opts.force ? "1" : undefined },
    });
  }

  prune(filters?: Filters): Promise<VolumePruneResponse> {
    return this.c.json("POST", "/volumes/prune", { query: { filters: filtersParam(filters) } });
  }
}
