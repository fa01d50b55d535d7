/** `pier image inspect`: docker's JSON array (4-space indent) or --format per image. */
import { str } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { StatusError, errorText } from "../errors.ts";
import { formatInspect } from "../table.ts";

export const command: CommandDef = {
  name: "image inspect",
  usage: "image inspect [OPTIONS] IMAGE [IMAGE...]",
  summary: "Display detailed information on one or more images",
  minArgs: 1,
  flags: [{ name: "format", short: "f", kind: "string", help: "Format output using a custom template" }],
  async run(cli, p) {
    const client = await cli.client();
    const found: unknown[] = [];
    const errors: string[] = [];
    for (const ref of p.positionals) {
      try {
        found.push(await client.inspectImage(ref));
      } catch (e) {
        errors.push(errorText(e));
      }
    }
    const format = str(p, "format");
    if (found.length > 0 || format === undefined) cli.io.out(formatInspect(found, format));
    if (errors.length > 0) throw new StatusError(1, errors.join("\n"));
  },
};
