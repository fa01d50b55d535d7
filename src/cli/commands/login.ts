/** `pier login [-u USER] [-p PASS | --password-stdin] [SERVER]`: checked by pierd, stored like docker. */
import { invalid } from "../../common/errors.ts";
import { bool, str } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { configPath, storeCredentials } from "../credentials.ts";

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}

export const command: CommandDef = {
  name: "login",
  usage: "login [OPTIONS] [SERVER]",
  summary: "Log in to a registry",
  maxArgs: 1,
  flags: [
    { name: "username", short: "u", kind: "string", help: "Username" },
    { name: "password", short: "p", kind: "string", help: "Password" },
    { name: "password-stdin", kind: "bool", help: "Take the password from stdin" },
  ],
  async run(cli, p) {
    const server = p.positionals[0] ?? "docker.io";
    const username = str(p, "username");
    let password = str(p, "password");
    if (bool(p, "password-stdin")) {
      if (password !== undefined) throw invalid("--password and --password-stdin are mutually exclusive");
      if (username === undefined) throw invalid("Must provide --username with --password-stdin");
      password = await readStdin();
    }
    if (username === undefined || password === undefined)
      throw invalid("username and password are required (-u USER with -p PASS or --password-stdin)");
    if (str(p, "password") !== undefined)
      cli.io.err("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n");
    const r = await (await cli.client()).login({ username, password, serveraddress: server });
    storeCredentials(server, username, password);
    cli.io.err(`WARNING! Your password will be stored unencrypted in ${configPath()}.\n`);
    cli.io.out(`${r.Status}\n`);
  },
};
