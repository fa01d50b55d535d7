/** `pier wait`: block until each container stops, printing its exit code. */
import type { CommandDef } from "../context.ts";
import { StatusError, errorText } from "../errors.ts";

export const command: CommandDef = {
  name: "wait",
  usage: "wait CONTAINER [CONTAINER...]",
  summary: "Block until one or more containers stop, then print their exit codes",
  minArgs: 1,
  flags: [],
  async run(cli, p) {
    const client = await cli.client();
    const errors: string[] = [];
    for (const name of p.positionals) {
      try {
        const w = await client.containers.wait(name, "");
        const r = await w.result;
        if (r.Error?.Message) throw new Error(r.Error.Message);
        cli.io.out(`${r.StatusCode}\n`);
      } catch (e) {
        errors.push(errorText(e));
      }
    }
    if (errors.length > 0) throw new StatusError(1, errors.join("\n"));
  },
};
