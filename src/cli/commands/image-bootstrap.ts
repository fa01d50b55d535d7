/** `pier image bootstrap busybox[:tag] | debian:SUITE`: a base image with no network, made by pierd. */
import type { CommandDef } from "../context.ts";
import { renderProgress } from "../progress.ts";

export const command: CommandDef = {
  name: "image bootstrap",
  usage: "image bootstrap busybox[:TAG] | debian:SUITE",
  summary: "Make a base image without a network (busybox from busybox-static, Debian with debootstrap)",
  minArgs: 1,
  maxArgs: 1,
  flags: [],
  async run(cli, p) {
    const name = p.positionals[0]!;
    let id: string | undefined;
    await renderProgress(
      (async function* (stream) {
        for await (const m of stream) {
          const aux = m.aux as { ID?: unknown } | undefined;
          if (typeof aux?.ID === "string") id = aux.ID;
          yield m;
        }
      })((await cli.client()).bootstrapImage(name)),
      {
        write: (s) => cli.io.err(s),
        isTTY: cli.io.stdoutIsTTY,
        ...(process.stdout.columns ? { columns: process.stdout.columns } : {}),
      },
    );
    if (id !== undefined) cli.io.out(`${id}\n`);
  },
};
