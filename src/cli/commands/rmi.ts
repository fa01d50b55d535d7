/** `pier rmi IMAGE...`: prints Untagged/Deleted lines; each failure printed, exit 1 at the end. */
import { bool } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { StatusError, errorText } from "../errors.ts";

export const command: CommandDef = {
  name: "rmi",
  usage: "rmi [OPTIONS] IMAGE [IMAGE...]",
  summary: "Remove one or more images",
  minArgs: 1,
  flags: [
    { name: "force", short: "f", kind: "bool", help: "Force removal of the image" },
    { name: "no-prune", kind: "bool", help: "Do not delete untagged parents" },
  ],
  async run(cli, p) {
    const client = await cli.client();
    const errors: string[] = [];
    for (const ref of p.positionals) {
      try {
        const items = await client.removeImage(ref, {
          force: bool(p, "force"),
          noPrune: bool(p, "no-prune"),
        });
        for (const it of items)
          cli.io.out("Untagged" in it ? `Untagged: ${it.Untagged}\n` : `Deleted: ${it.Deleted}\n`);
      } catch (e) {
        errors.push(errorText(e));
      }
    }
    if (errors.length > 0) throw new StatusError(1, errors.join("\n"));
  },
};
