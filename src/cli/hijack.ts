/**
 * Moving stdio over a hijacked connection (attach, exec start), as the docker CLI's
 * hijackedIOStreamer does:
 *
 *   - output: raw bytes (TTY) or demultiplexed frames to our stdout/stderr, until the
 *     daemon closes its side: that ends the session;
 *   - input: stdin, raw; on a TTY through the escape proxy (detach keys end the session
 *     without the keys being sent); when stdin ends we half-close, and with no stdin at
 *     all we half-close at once. The daemon keeps writing after our FIN.
 */
import type { Socket } from "node:net";
import type { Readable } from "node:stream";
import { StdDemuxer } from "../api/client/index.ts";
import { EscapeProxy } from "./detach-keys.ts";

export interface StreamOptions {
  tty: boolean;
  /** Our stdin, when the container's is attached. */
  stdin?: Readable | undefined;
  out(b: Buffer): void;
  err(b: Buffer): void;
  /** The detach sequence, watched on a TTY's stdin. */
  detachKeys?: Buffer | undefined;
}

/** How a session ended: the daemon closed the stream, or the user typed the detach keys. */
export type StreamEnd = "eof" | "detached";

/** Ends our side after flushing, and drops the connection shortly after. */
export function hangUp(conn: Socket): void {
  if (conn.destroyed) return;
  conn.end();
  setTimeout(() => conn.destroy(), 500).unref();
}

export function pumpStreams(conn: Socket, o: StreamOptions): Promise<StreamEnd> {
  return new Promise<StreamEnd>((resolve, reject) => {
    let settled = false;
    const demux = o.tty ? undefined : new StdDemuxer();
    const escape = o.tty && o.detachKeys ? new EscapeProxy(o.detachKeys) : undefined;
    const stdin = o.stdin;

    const onStdinData = (chunk: Buffer | string) => {
      const b = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      if (!escape) {
        if (!conn.destroyed) conn.write(b);
        return;
      }
      const r = escape.push(b);
      if (r.pass.length > 0 && !conn.destroyed) conn.write(r.pass);
      if (r.detach) finish("detached");
    };
    const onStdinEnd = () => {
      if (!conn.destroyed) conn.end();
    };
    const stopStdin = () => {
      if (!stdin) return;
      stdin.off("data", onStdinData);
      stdin.off("end", onStdinEnd);
      stdin.pause();
    };
    const finish = (how: StreamEnd, err?: Error) => {
      if (settled) return;
      settled = true;
      stopStdin();
      // Detached: what was typed before the keys still goes out, then we hang up.
      if (how === "detached") hangUp(conn);
      if (err) reject(err);
      else resolve(how);
    };

    conn.on("data", (chunk: Buffer) => {
      if (!demux) {
        o.out(chunk);
        return;
      }
      for (const f of demux.push(chunk)) {
        if (f.stream === 2) o.err(f.payload);
        else o.out(f.payload);
      }
    });
    conn.on("end", () => finish("eof"));
    conn.on("close", () => finish("eof"));
    conn.on("error", (e: NodeJS.ErrnoException) => {
      // A reset after the daemon is done with us is an ordinary end.
      if (e.code === "ECONNRESET" || e.code === "EPIPE") finish("eof");
      else finish("eof", e);
    });

    if (stdin) {
      stdin.on("data", onStdinData);
      stdin.on("end", onStdinEnd);
      stdin.resume();
    } else {
      conn.end();
    }
  });
}
