/**
 * `pier stats`: a live table of CPU, memory, network, block I/O and pids per container,
 * redrawn every second (on a terminal the screen is cleared first); `--no-stream` prints
 * one sample. Without names: every running container (-a: all), refreshed as they come
 * and go.
 */
import type { ApiClient, ContainerStats } from "../../api/client/index.ts";
import { bool, str } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { StatusError, errorText } from "../errors.ts";
import { STATS_FORMAT, STATS_HEADERS, statsRow } from "../stats-format.ts";
import { formatRows } from "../table.ts";

interface Watched {
  name: string;
  latest?: ContainerStats;
  error?: string;
  stop?: () => void;
}

async function names(client: ApiClient, all: boolean): Promise<string[]> {
  return (await client.containers.list({ all })).map((c) => c.Id);
}

export const command: CommandDef = {
  name: "stats",
  usage: "stats [OPTIONS] [CONTAINER...]",
  summary: "Display a live stream of container(s) resource usage statistics",
  flags: [
    { name: "all", short: "a", kind: "bool", help: "Show all containers (default shows just running)" },
    { name: "format", kind: "string", help: "Format output using a custom template" },
    { name: "no-stream", kind: "bool", help: "Disable streaming stats and only pull the first result" },
    { name: "no-trunc", kind: "bool", help: "Do not truncate output" },
  ],
  async run(cli, p) {
    const client = await cli.client();
    const trunc = !bool(p, "no-trunc");
    const format = str(p, "format");
    const given = p.positionals;
    const render = (ws: Watched[]) =>
      formatRows(
        ws.filter((w) => w.latest).map((w) => statsRow(w.latest!, w.name, trunc)),
        { format, defaultFormat: STATS_FORMAT, headers: STATS_HEADERS },
      );

    if (bool(p, "no-stream")) {
      const targets = given.length > 0 ? given : await names(client, bool(p, "all"));
      const ws: Watched[] = await Promise.all(
        targets.map(async (name): Promise<Watched> => {
          try {
            for await (const s of client.containers.stats(name, { stream: false }))
              return { name, latest: s };
            return { name };
          } catch (e) {
            return { name, error: errorText(e) };
          }
        }),
      );
      const errors = ws.filter((w) => w.error).map((w) => w.error!);
      if (errors.length > 0 && given.length > 0) throw new StatusError(1, errors.join("\n"));
      cli.io.out(render(ws));
      return;
    }

    const watched = new Map<string, Watched>();
    const watch = (name: string) => {
      if (watched.has(name)) return;
      const w: Watched = { name };
      watched.set(name, w);
      let stopped = false;
      const it = client.containers.stats(name, { stream: true });
      w.stop = () => {
        stopped = true;
        void it.return(undefined);
      };
      void (async () => {
        try {
          for await (const s of it) {
            if (stopped) break;
            w.latest = s;
          }
        } catch (e) {
          w.error = errorText(e);
        }
        if (given.length === 0) watched.delete(name);
      })();
    };
    for (const n of given) watch(n);
    const refresh = async () => {
      if (given.length > 0) return;
      const now = new Set(await names(client, bool(p, "all")));
      for (const n of now) watch(n);
      for (const [n, w] of watched) {
        if (!now.has(n)) {
          w.stop?.();
          watched.delete(n);
        }
      }
    };
    await refresh();
    for (let tick = 0; ; tick++) {
      await new Promise((r) => setTimeout(r, 1000));
      if (tick % 2 === 1) await refresh().catch(() => {});
      const errors = [...watched.values()].filter((w) => w.error);
      if (given.length > 0 && errors.length === watched.size) {
        throw new StatusError(1, errors.map((w) => w.error).join("\n"));
      }
      const table = render([...watched.values()]);
      cli.io.out((cli.io.stdoutIsTTY ? "\x1b[2J\x1b[H" : "") + table);
    }
  },
};
