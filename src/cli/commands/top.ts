/** `pier top CONTAINER [ps OPTIONS]`: the daemon runs ps; shown as a table. */
import type { CommandDef } from "../context.ts";
import { tabwrite } from "../table.ts";

export const command: CommandDef = {
  name: "top",
  usage: "top CONTAINER [ps OPTIONS]",
  summary: "Display the running processes of a container",
  minArgs: 1,
  interspersed: false,
  flags: [],
  async run(cli, p) {
    const [name, ...psArgs] = p.positionals as [string, ...string[]];
    const r = await (await cli.client()).containers.top(name, psArgs.join(" "));
    const lines = [r.Titles.join("\t"), ...r.Processes.map((row) => row.join("\t"))];
    cli.io.out(tabwrite(lines.join("\n"), 20, 3) + "\n");
  },
};
