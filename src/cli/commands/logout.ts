/** `pier logout [SERVER]`: removes the stored credentials (nothing is asked of pierd). */
import type { CommandDef } from "../context.ts";
import { eraseCredentials } from "../credentials.ts";

export const command: CommandDef = {
  name: "logout",
  usage: "logout [SERVER]",
  summary: "Log out from a registry",
  maxArgs: 1,
  flags: [],
  run(cli, p) {
    const server = p.positionals[0] ?? "docker.io";
    if (eraseCredentials(server)) cli.io.out(`Removing login credentials for ${server}\n`);
    else cli.io.out(`Not logged in to ${server}\n`);
    return Promise.resolve();
  },
};
