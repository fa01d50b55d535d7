/**
 * System endpoints beyond version/info: disk usage, events, the build-cache prune docker's
 * `system prune` calls, and pier's leak check (`GET /pier/system/check`,
 * `POST /pier/system/prune`).
 */
import type {
  EventMessage,
  SystemCheckResponse,
  SystemDf,
  SystemLeakPruneResponse,
} from "../container-types.ts";
import type { ApiClient } from "./client.ts";
import { filtersParam, type Filters } from "./filters.ts";
import { readJsonLines } from "./jsonlines.ts";

export class SystemApi {
  constructor(private readonly c: ApiClient) {}

  df(opts: { type?: string[] } = {}): Promise<SystemDf> {
    return this.c.json("GET", "/system/df", { query: { type: opts.type } });
  }

  /** `GET /events`: a JSON stream; ends at `until`, else runs until the caller stops. */
  async *events(
    opts: { since?: string; until?: string; filters?: Filters } = {},
  ): AsyncGenerator<EventMessage> {
    const r = await this.c.call("GET", "/events", {
      query: { filters: filtersParam(opts.filters), since: opts.since, until: opts.until },
    });
    try {
      yield* readJsonLines<EventMessage>(r.body);
    } finally {
      r.body.destroy();
    }
  }

  pruneBuildCache(opts: { all?: boolean; filters?: Filters } = {}): Promise<{
    CachesDeleted: string[] | null;
    SpaceReclaimed: number;
  }> {
    return this.c.json("POST", "/build/prune", {
      query: { all: opts.all ? "1" : undefined, filters: filtersParam(opts.filters) ?? "" },
    });
  }

  /** pier extension: what pier's state leaked (mounts, cgroups, snapshots, directories). */
  check(): Promise<SystemCheckResponse> {
    return this.c.json("GET", "/pier/system/check");
  }

  /** pier extension: removes what `check` finds. */
  pruneLeaks(): Promise<SystemLeakPruneResponse> {
    return this.c.json("POST", "/pier/system/prune");
  }
}
