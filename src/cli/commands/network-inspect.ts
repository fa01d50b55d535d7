/** `pier network inspect`: docker's JSON array or --format per network. */
import { bool, str } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { StatusError, errorText } from "../errors.ts";
import { formatInspect } from "../table.ts";

export const command: CommandDef = {
  name: "network inspect",
  usage: "network inspect [OPTIONS] NETWORK [NETWORK...]",
  summary: "Display detailed information on one or more networks",
  minArgs: 1,
  flags: [
    { name: "format", short: "f", kind: "string", help: "Format output using a custom template" },
    { name: "verbose", short: "v", kind: "bool", help: "Verbose output for diagnostics" },
  ],
  async run(cli, p) {
    const client = await cli.client();
    const found: unknown[] = [];
    const errors: string[] = [];
    for (const n of p.positionals) {
      try {
        found.push(await client.networks.inspect(n, { verbose: bool(p, "verbose") }));
      } catch (e) {
        errors.push(errorText(e));
      }
    }
    const format = str(p, "format");
    if (found.length > 0 || format === undefined) cli.io.out(formatInspect(found, format));
    if (errors.length > 0) throw new StatusError(1, errors.join("\n"));
  },
};
