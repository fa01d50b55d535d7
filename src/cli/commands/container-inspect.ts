/** `pier container inspect`: docker's JSON array (4-space indent) or --format per container; -s adds sizes. */
import { bool, str } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { StatusError, errorText } from "../errors.ts";
import { formatInspect } from "../table.ts";

export const command: CommandDef = {
  name: "container inspect",
  usage: "container inspect [OPTIONS] CONTAINER [CONTAINER...]",
  summary: "Display detailed information on one or more containers",
  minArgs: 1,
  flags: [
    { name: "format", short: "f", kind: "string", help: "Format output using a custom template" },
    { name: "size", short: "s", kind: "bool", help: "Display total file sizes" },
  ],
  async run(cli, p) {
    const client = await cli.client();
    const found: unknown[] = [];
    const errors: string[] = [];
    for (const name of p.positionals) {
      try {
        found.push(await client.containers.inspect(name, { size: bool(p, "size") }));
      } catch (e) {
        errors.push(errorText(e));
      }
    }
    const format = str(p, "format");
    if (found.length > 0 || format === undefined) cli.io.out(formatInspect(found, format));
    if (errors.length > 0) throw new StatusError(1, errors.join("\n"));
  },
};
