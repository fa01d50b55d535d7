/**
 * `pier run`: create (pulling the image if it is missing) → attach → wait (its headers
 * first) → start → resize → wait for the output to end → exit with the container's status.
 * The order is docker's, so no output is lost and the exit code is never missed. `-d`
 * prints the id instead. Exit codes: 125 when pier or the daemon fails, 126/127 when the
 * command cannot be invoked / is not found, else the container's own.
 */
import { DaemonError } from "../../api/client/index.ts";
import type { CommandDef } from "../context.ts";
import { fullIo } from "../context.ts";
import { createContainer, startErrorCode } from "../create-container.ts";
import { DEFAULT_DETACH_KEYS, detachKeyBytes } from "../detach-keys.ts";
import { StatusError, errorText } from "../errors.ts";
import { containerOptions, RUN_FLAGS, runOnly } from "../run-flags.ts";
import { monitorTtySize, proxySignals, startSession, type Session } from "../session.ts";

/** An error of create/start as `run` reports it: the message and docker's exit code. */
export function runFailure(e: unknown): StatusError {
  if (e instanceof StatusError) return e;
  const text = errorText(e);
  return new StatusError(e instanceof DaemonError ? startErrorCode(text) : 125, text);
}

/** The detach sequence watched locally (docker falls back to the default on a bad one). */
export function localDetachKeys(spec: string | undefined): Buffer {
  try {
    return detachKeyBytes(spec || DEFAULT_DETACH_KEYS);
  } catch {
    return detachKeyBytes(DEFAULT_DETACH_KEYS);
  }
}

export const command: CommandDef = {
  name: "run",
  usage: "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
  summary: "Create and run a new container from an image",
  interspersed: false,
  flags: RUN_FLAGS,
  async run(cli, p) {
    const io = fullIo(cli.io);
    const ro = runOnly(p);
    const opts = containerOptions(
      p,
      { cwd: io.cwd, env: (n) => io.env[n], consoleSize: io.stdoutIsTTY ? io.terminal.size() : undefined },
      "pier run",
    );
    const body = opts.body;
    if (ro.detach) {
      if (opts.attach.length > 0) {
        throw new StatusError(1, "conflicting options: cannot specify both --attach and --detach");
      }
      body.AttachStdin = false;
      body.AttachStdout = false;
      body.AttachStderr = false;
      body.StdinOnce = false;
    } else if (body.AttachStdin && body.Tty && !io.stdinIsTTY) {
      throw new StatusError(1, "the input device is not a TTY");
    }
    const client = await cli.client();
    let id: string;
    try {
      id = await createContainer(client, opts, io);
    } catch (e) {
      throw runFailure(e);
    }
    const tty = body.Tty === true;
    let session: Session | undefined;
    if (body.AttachStdin || body.AttachStdout || body.AttachStderr) {
      const conn = await client.containers.attach(id, {
        stdin: body.AttachStdin === true,
        stdout: body.AttachStdout === true,
        stderr: body.AttachStderr === true,
        ...(ro.detachKeys ? { detachKeys: ro.detachKeys } : {}),
      });
      session = startSession(conn, io, {
        tty,
        stdin: body.AttachStdin === true,
        detachKeys: localDetachKeys(ro.detachKeys),
      });
    }
    // The daemon sends wait's headers at once; starting before they arrive could miss the exit.
    const wait = await client.containers.wait(id, body.HostConfig?.AutoRemove ? "removed" : "next-exit");
    try {
      await client.containers.start(id);
    } catch (e) {
      session?.close();
      wait.cancel();
      throw runFailure(e);
    }
    if (ro.detach) {
      wait.cancel();
      io.out(`${id}\n`);
      return 0;
    }
    const stopResize = tty ? monitorTtySize(io, (h, w) => client.containers.resize(id, h, w)) : () => {};
    const stopSignals = ro.sigProxy ? proxySignals(client, id, io) : () => {};
    try {
      if (session && (await session.done) === "detached") return 0;
      const status = await wait.result;
      if (status.Error?.Message) throw new StatusError(125, status.Error.Message);
      return status.StatusCode;
    } finally {
      stopResize();
      stopSignals();
      session?.close();
      wait.cancel();
    }
  },
};
