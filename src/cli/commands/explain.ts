/**
 * `pier explain CONTAINER` (pier): what a container is made of — its process, namespaces,
 * cgroup limits and usage, the layer stack of its rootfs, volumes, ports — drawn for a
 * person (colour on a terminal), or `--format json` / a Go template over
 * `GET /containers/{id}/explain`.
 */
import { str } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { fullIo } from "../context.ts";
import { renderExplain } from "../explain-render.ts";
import { formatInspect } from "../table.ts";

export const command: CommandDef = {
  name: "explain",
  usage: "explain [OPTIONS] CONTAINER",
  summary: "Show what a container is made of: process, namespaces, cgroup, layers, mounts, ports",
  minArgs: 1,
  maxArgs: 1,
  flags: [
    { name: "format", short: "f", kind: "string", help: "'json' or a Go template instead of the picture" },
  ],
  async run(cli, p) {
    const e = await (await cli.client()).containers.explain(p.positionals[0]!);
    const format = str(p, "format");
    if (format === "json") {
      cli.io.out(JSON.stringify(e, null, 4) + "\n");
      return;
    }
    if (format !== undefined) {
      cli.io.out(formatInspect([e], format));
      return;
    }
    const io = fullIo(cli.io);
    const color = cli.io.stdoutIsTTY && !io.env.NO_COLOR;
    const width = cli.io.stdoutIsTTY ? io.terminal.size()?.[1] : undefined;
    cli.io.out(renderExplain(e, { color, ...(width ? { width } : {}) }));
  },
};
