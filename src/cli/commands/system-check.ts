/**
 * `pier system check` (pier): what pier's state leaked — mounts, cgroups, snapshots,
 * monitors, directories that no container or image owns (`GET /pier/system/check`).
 * Exits 1 when something leaked, so scripts and tests can assert a clean machine;
 * `pier system prune` removes them.
 */
import { str } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { formatRows } from "../table.ts";
import { humanSize } from "../units.ts";

export const command: CommandDef = {
  name: "system check",
  usage: "system check [OPTIONS]",
  summary: "Find state pier leaked (mounts, cgroups, snapshots, directories)",
  maxArgs: 0,
  flags: [
    {
      name: "format",
      kind: "string",
      help: "Format output using a custom template ('table', 'json', or a Go template)",
    },
  ],
  async run(cli, p) {
    const r = await (await cli.client()).system.check();
    const leaks = r.Leaks ?? [];
    const format = str(p, "format");
    if (leaks.length === 0 && format === undefined) {
      cli.io.out("No leaks found.\n");
      return 0;
    }
    cli.io.out(
      formatRows(
        leaks.map((l) => ({
          Kind: l.Kind,
          ID: l.Id ?? "",
          Path: l.Path ?? "",
          Detail: l.Detail,
          Size: l.Size === undefined ? "" : humanSize(l.Size),
        })),
        {
          format,
          defaultFormat: "table {{.Kind}}\t{{.ID}}\t{{.Path}}\t{{.Size}}\t{{.Detail}}",
          headers: { Kind: "KIND", ID: "ID", Path: "PATH", Detail: "DETAIL", Size: "SIZE" },
        },
      ),
    );
    return leaks.length > 0 ? 1 : 0;
  },
};
