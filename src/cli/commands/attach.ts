/**
 * `pier attach`: wait (registered first, so the exit is not missed) → inspect (it must be
 * running) → attach → resize with a TTY → exit with the container's status. Detach with
 * the detach keys (ctrl-p ctrl-q) on a TTY.
 */
import { boolOr, bool, str } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { fullIo } from "../context.ts";
import { StatusError } from "../errors.ts";
import { monitorTtySize, proxySignals, startSession } from "../session.ts";
import { localDetachKeys } from "./run.ts";

export const command: CommandDef = {
  name: "attach",
  usage: "attach [OPTIONS] CONTAINER",
  summary: "Attach local standard input, output, and error streams to a running container",
  minArgs: 1,
  maxArgs: 1,
  flags: [
    { name: "detach-keys", kind: "string", help: "Override the key sequence for detaching a container" },
    { name: "no-stdin", kind: "bool", help: "Do not attach STDIN" },
    { name: "sig-proxy", kind: "bool", help: "Proxy all received signals to the process (default true)" },
  ],
  async run(cli, p) {
    const io = fullIo(cli.io);
    const client = await cli.client();
    const name = p.positionals[0]!;
    const wait = await client.containers.wait(name, "");
    try {
      const c = await client.containers.inspect(name);
      if (!c.State.Running)
        throw new StatusError(1, "You cannot attach to a stopped container, start it first");
      if (c.State.Paused)
        throw new StatusError(1, "You cannot attach to a paused container, unpause it first");
      if (c.State.Restarting) {
        throw new StatusError(1, "You cannot attach to a restarting container, wait until it is running");
      }
      const tty = c.Config.Tty === true;
      const stdin = !bool(p, "no-stdin") && c.Config.OpenStdin === true;
      if (stdin && tty && !io.stdinIsTTY) throw new StatusError(1, "the input device is not a TTY");
      const detachKeys = str(p, "detach-keys");
      const conn = await client.containers.attach(name, {
        stdin,
        stdout: true,
        stderr: true,
        ...(detachKeys ? { detachKeys } : {}),
      });
      const session = startSession(conn, io, { tty, stdin, detachKeys: localDetachKeys(detachKeys) });
      // Checked again now that we are attached: had it stopped in between, we would wait forever.
      try {
        const again = await client.containers.inspect(name);
        if (!again.State.Running)
          throw new StatusError(1, "You cannot attach to a stopped container, start it first");
      } catch (e) {
        session.close();
        throw e;
      }
      const stopResize = tty ? monitorTtySize(io, (h, w) => client.containers.resize(c.Id, h, w)) : () => {};
      const stopSignals = boolOr(p, "sig-proxy", true) && !tty ? proxySignals(client, c.Id, io) : () => {};
      try {
        if ((await session.done) === "detached") return 0;
        const status = await wait.result;
        if (status.Error?.Message) throw new StatusError(1, status.Error.Message);
        return status.StatusCode;
      } finally {
        stopResize();
        stopSignals();
        session.close();
      }
    } finally {
      wait.cancel();
    }
  },
};
