/**
 * `pier create`: the create request `run` would send (same flags but the run-only ones);
 * prints the id. Unlike `run`, a daemon error exits 1, as docker's create does.
 */
import type { CommandDef } from "../context.ts";
import { fullIo } from "../context.ts";
import { createContainer } from "../create-container.ts";
import { CREATE_FLAGS, containerOptions } from "../run-flags.ts";

export const command: CommandDef = {
  name: "create",
  usage: "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
  summary: "Create a new container",
  interspersed: false,
  flags: CREATE_FLAGS,
  async run(cli, p) {
    const io = fullIo(cli.io);
    const opts = containerOptions(
      p,
      { cwd: io.cwd, env: (n) => io.env[n], consoleSize: io.stdoutIsTTY ? io.terminal.size() : undefined },
      "pier create",
    );
    const client = await cli.client();
    io.out(`${await createContainer(client, opts, io)}\n`);
  },
};
