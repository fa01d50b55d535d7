/**
 * `pier exec`: inspect (the container must exist) → create the exec → start it hijacked
 * (its JSON body ahead of stdin) → resize with a TTY → when the stream ends, its exit code
 * from `GET /exec/{id}/json`. `-d` starts it detached and prints nothing. The create body
 * is docker's, key for key.
 */
import type { ExecCreateRequest } from "../../api/client/index.ts";
import { bool, list, str, UsageError } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { fullIo } from "../context.ts";
import { StatusError } from "../errors.ts";
import { readKVFile, validateEnv } from "../opts/env.ts";
import { ValueError } from "../opts/values.ts";
import { monitorTtySize, startSession } from "../session.ts";
import { localDetachKeys } from "./run.ts";

export const command: CommandDef = {
  name: "exec",
  usage: "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
  summary: "Execute a command in a running container",
  minArgs: 2,
  interspersed: false,
  flags: [
    { name: "detach", short: "d", kind: "bool", help: "Detached mode: run command in the background" },
    { name: "detach-keys", kind: "string", help: "Override the key sequence for detaching a container" },
    { name: "env", short: "e", kind: "list", help: "Set environment variables" },
    { name: "env-file", kind: "list", help: "Read in a file of environment variables" },
    { name: "interactive", short: "i", kind: "bool", help: "Keep STDIN open even if not attached" },
    { name: "privileged", kind: "bool", help: "Give extended privileges to the command" },
    { name: "tty", short: "t", kind: "bool", help: "Allocate a pseudo-TTY" },
    { name: "user", short: "u", kind: "string", help: "Username or UID (format: <name|uid>[:<group|gid>])" },
    { name: "workdir", short: "w", kind: "string", help: "Working directory inside the container" },
  ],
  async run(cli, p) {
    const io = fullIo(cli.io);
    const [container, ...cmd] = p.positionals as [string, ...string[]];
    const detach = bool(p, "detach");
    const tty = bool(p, "tty");
    const stdin = bool(p, "interactive");
    const env: string[] = [];
    try {
      for (const f of list(p, "env-file")) env.push(...readKVFile(f, (n) => io.env[n]));
      for (const e of list(p, "env")) env.push(validateEnv(e, (n) => io.env[n]));
    } catch (e) {
      if (e instanceof ValueError) throw new UsageError(e.message, "pier exec");
      throw e;
    }
    const client = await cli.client();
    // Makes "no such container" the error rather than a leaked exec.
    await client.containers.inspect(container);
    if (!detach && stdin && tty && !io.stdinIsTTY) throw new StatusError(1, "the input device is not a TTY");
    const consoleSize: [number, number] | undefined = tty
      ? ((io.stdoutIsTTY ? io.terminal.size() : undefined) ?? [0, 0])
      : undefined;
    const body: ExecCreateRequest = {
      User: str(p, "user") ?? "",
      Privileged: bool(p, "privileged"),
      Tty: tty,
      ...(consoleSize ? { ConsoleSize: consoleSize } : {}),
      AttachStdin: !detach && stdin,
      AttachStderr: !detach,
      AttachStdout: !detach,
      Detach: detach,
      DetachKeys: str(p, "detach-keys") ?? "",
      Env: env.length > 0 ? env : null,
      WorkingDir: str(p, "workdir") ?? "",
      Cmd: cmd,
    };
    const { Id: execId } = await client.exec.create(container, body);
    if (detach) {
      await client.exec.startDetached(execId, { Detach: true, Tty: tty });
      return 0;
    }
    const conn = await client.exec.startAttached(execId, {
      Detach: false,
      Tty: tty,
      ...(consoleSize ? { ConsoleSize: consoleSize } : {}),
    });
    const session = startSession(conn, io, {
      tty,
      stdin,
      detachKeys: localDetachKeys(str(p, "detach-keys")),
    });
    const stopResize = tty ? monitorTtySize(io, (h, w) => client.exec.resize(execId, h, w)) : () => {};
    try {
      if ((await session.done) === "detached") return 0;
    } finally {
      stopResize();
      session.close();
    }
    // The stream can end a moment before the daemon has recorded the exit.
    let r = await client.exec.inspect(execId);
    for (let i = 0; i < 20 && r.Running; i++) {
      await new Promise((res) => setTimeout(res, 50));
      r = await client.exec.inspect(execId);
    }
    return r.ExitCode ?? 0;
  },
};
