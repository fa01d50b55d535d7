/**
 * An attached session with a container or an exec: the hijacked stdio, the local terminal
 * in raw mode while it lasts (TTY with stdin), resizes sent as the terminal changes, and
 * (`--sig-proxy`, containers only) our signals forwarded with `kill?signal=`. `close()`
 * undoes all of it; the terminal is always restored.
 */
import type { Socket } from "node:net";
import type { ApiClient } from "../api/client/index.ts";
import type { FullIo } from "./context.ts";
import { hangUp, pumpStreams, type StreamEnd } from "./hijack.ts";
import { PROXIED_SIGNALS } from "./terminal.ts";

export interface SessionOptions {
  tty: boolean;
  stdin: boolean;
  detachKeys?: Buffer | undefined;
}

export interface Session {
  /** Settles when the daemon closed the stream or the user detached. */
  done: Promise<StreamEnd>;
  close(): void;
}

/** Starts moving stdio over an already hijacked connection. */
export function startSession(conn: Socket, io: FullIo, o: SessionOptions): Session {
  const restore = o.tty && o.stdin && io.stdinIsTTY ? io.terminal.makeRaw() : () => {};
  const done = pumpStreams(conn, {
    tty: o.tty,
    stdin: o.stdin ? io.stdin : undefined,
    out: (b) => io.out(b),
    err: (b) => io.err(b),
    detachKeys: o.detachKeys,
  });
  let closed = false;
  return {
    done,
    close() {
      if (closed) return;
      closed = true;
      restore();
      hangUp(conn);
    },
  };
}

/**
 * Sends the terminal's size now and on every resize (docker's MonitorTtySize); only when
 * stdout is a terminal. Returns the unsubscribe. Errors are ignored: the process may be gone.
 */
export function monitorTtySize(io: FullIo, resize: (h: number, w: number) => Promise<void>): () => void {
  if (!io.stdoutIsTTY) return () => {};
  const send = () => {
    const size = io.terminal.size();
    if (size) resize(size[0], size[1]).catch(() => {});
  };
  send();
  return io.terminal.onResize(send);
}

/** Forwards our signals to the container (docker's ForwardAllSignals). Returns the unsubscribe. */
export function proxySignals(client: ApiClient, id: string, io: FullIo): () => void {
  return io.signals(PROXIED_SIGNALS, (sig) => {
    client.containers.kill(id, sig.replace(/^SIG/, "")).catch(() => {});
  });
}
