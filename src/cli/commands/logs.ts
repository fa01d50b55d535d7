/**
 * `pier logs`: inspect (for Config.Tty: the body is raw with a TTY, multiplexed frames
 * without) → `GET /containers/{id}/logs` streamed to our stdout/stderr until it ends
 * (with -f, until the container stops).
 */
import { copyStd } from "../../api/client/index.ts";
import { bool, str, UsageError } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { ValueError } from "../opts/values.ts";
import { getTimestamp } from "../timestamps.ts";

export const command: CommandDef = {
  name: "logs",
  usage: "logs [OPTIONS] CONTAINER",
  summary: "Fetch the logs of a container",
  minArgs: 1,
  maxArgs: 1,
  flags: [
    { name: "details", kind: "bool", help: "Show extra details provided to logs" },
    { name: "follow", short: "f", kind: "bool", help: "Follow log output" },
    {
      name: "since",
      kind: "string",
      help: "Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)",
    },
    {
      name: "tail",
      short: "n",
      kind: "string",
      help: 'Number of lines to show from the end of the logs (default "all")',
    },
    { name: "timestamps", short: "t", kind: "bool", help: "Show timestamps" },
    {
      name: "until",
      kind: "string",
      help: "Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)",
    },
  ],
  async run(cli, p) {
    const time = (name: string) => {
      const v = str(p, name);
      if (v === undefined) return undefined;
      try {
        return getTimestamp(v);
      } catch (e) {
        if (e instanceof ValueError)
          throw new UsageError(`invalid value for "${name}": ${e.message}`, "pier logs");
        throw e;
      }
    };
    const since = time("since");
    const until = time("until");
    const client = await cli.client();
    const c = await client.containers.inspect(p.positionals[0]!);
    const body = await client.containers.logs(c.Id, {
      stdout: true,
      stderr: true,
      follow: bool(p, "follow"),
      timestamps: bool(p, "timestamps"),
      details: bool(p, "details"),
      tail: str(p, "tail") ?? "all",
      ...(since !== undefined ? { since } : {}),
      ...(until !== undefined ? { until } : {}),
    });
    await copyStd(body, c.Config.Tty === true, {
      stdout: (b) => cli.io.out(b),
      stderr: (b) => cli.io.err(b),
    });
  },
};
