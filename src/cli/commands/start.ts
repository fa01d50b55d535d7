/**
 * `pier start`: without -a, start each container and print its name; with -a (one
 * container), attach → wait → start as `run` does and exit with its status; -i attaches
 * stdin too. Signals are proxied when the container has no TTY (docker's rule for start).
 */
import { bool, str } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { fullIo } from "../context.ts";
import { StatusError } from "../errors.ts";
import { forEachTarget } from "../multi.ts";
import { monitorTtySize, proxySignals, startSession } from "../session.ts";
import { localDetachKeys } from "./run.ts";

export const command: CommandDef = {
  name: "start",
  usage: "start [OPTIONS] CONTAINER [CONTAINER...]",
  summary: "Start one or more stopped containers",
  minArgs: 1,
  flags: [
    { name: "attach", short: "a", kind: "bool", help: "Attach STDOUT/STDERR and forward signals" },
    { name: "detach-keys", kind: "string", help: "Override the key sequence for detaching a container" },
    { name: "interactive", short: "i", kind: "bool", help: "Attach container's STDIN" },
  ],
  async run(cli, p) {
    const names = p.positionals;
    const attach = bool(p, "attach") || bool(p, "interactive");
    if (!attach) {
      await forEachTarget(cli, names, (c, n) => c.containers.start(n), {
        failLine: (failed) => `Error: failed to start containers: ${failed.join(", ")}`,
      });
      return;
    }
    if (names.length > 1) throw new StatusError(1, "you cannot start and attach multiple containers at once");
    const io = fullIo(cli.io);
    const client = await cli.client();
    const c = await client.containers.inspect(names[0]!);
    const id = c.Id;
    const tty = c.Config.Tty === true;
    const stdin = bool(p, "interactive") && c.Config.OpenStdin === true;
    if (stdin && tty && !io.stdinIsTTY) throw new StatusError(1, "the input device is not a TTY");
    const detachKeys = str(p, "detach-keys");
    const conn = await client.containers.attach(id, {
      stdin,
      stdout: true,
      stderr: true,
      ...(detachKeys ? { detachKeys } : {}),
    });
    const session = startSession(conn, io, { tty, stdin, detachKeys: localDetachKeys(detachKeys) });
    const wait = await client.containers.wait(id, "next-exit");
    const stopSignals = tty ? () => {} : proxySignals(client, id, io);
    let stopResize = () => {};
    try {
      await client.containers.start(id, detachKeys ? { detachKeys } : {});
      if (tty) stopResize = monitorTtySize(io, (h, w) => client.containers.resize(id, h, w));
      if ((await session.done) === "detached") return 0;
      const status = await wait.result;
      if (status.Error?.Message) throw new StatusError(1, status.Error.Message);
      return status.StatusCode;
    } finally {
      stopResize();
      stopSignals();
      session.close();
      wait.cancel();
    }
  },
};
