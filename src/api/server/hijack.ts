/**
 * Hijacked streams (attach, exec start): the 101 answer, docker's stdout/stderr
 * multiplexing, and reading a request body that arrived ahead of stdin.
 *
 * The client may half-close (FIN) at once when it has no stdin; the server must keep
 * writing until the process is done. Node gives upgraded sockets with allowHalfOpen, and
 * `Hijacked` never ends its side because the peer ended its own.
 */
import type { Duplex } from "node:stream";

export const RAW_STREAM = "application/vnd.docker.raw-stream";
export const MULTIPLEXED_STREAM = "application/vnd.docker.multiplexed-stream";

/** Writes `101 UPGRADED` with docker's headers. The client ignores the Content-Type. */
export function writeUpgraded(socket: Duplex, multiplexed: boolean): void {
  socket.write(
    "HTTP/1.1 101 UPGRADED\r\n" +
      `Content-Type: ${multiplexed ? MULTIPLEXED_STREAM : RAW_STREAM}\r\n` +
      "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
  );
}

/** Writes a plain HTTP error on a socket that was offered for upgrade but is refused. */
export function writeRawError(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ message }) + "\n";
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Error"}\r\n` +
      "Content-Type: application/json\r\n" +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n` +
      body,
  );
}

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  404: "Not Found",
  409: "Conflict",
  500: "Internal Server Error",
  501: "Not Implemented",
  503: "Service Unavailable",
};

export type StreamId = 0 | 1 | 2;

/** One multiplexed frame: `[stream, 0, 0, 0, len:uint32 BE] payload`. */
export function muxFrame(stream: StreamId, payload: Uint8Array): Buffer {
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

/** Splits a multiplexed byte stream back into frames (the client side, and tests). */
export class MuxDecoder {
  private buf = Buffer.alloc(0);

  push(chunk: Uint8Array): { stream: number; payload: Buffer }[] {
    this.buf = Buffer.concat([this.buf, chunk]);
    const out: { stream: number; payload: Buffer }[] = [];
    while (this.buf.length >= 8) {
      const len = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + len) break;
      out.push({ stream: this.buf[0]!, payload: this.buf.subarray(8, 8 + len) });
      this.buf = this.buf.subarray(8 + len);
    }
    return out;
  }
}

/**
 * An upgraded connection after the 101: output goes out framed (no TTY) or raw (TTY);
 * input (`stdin`) is always raw. The peer's half-close ends `stdin` only; our side stays
 * open until `close()`.
 */
export class Hijacked {
  private done = false;

  constructor(
    readonly socket: Duplex,
    readonly multiplexed: boolean,
  ) {
    socket.on("error", () => {
      this.done = true;
    });
    socket.on("close", () => {
      this.done = true;
    });
  }

  /** Sends the 101 and returns the connection. `head` holds bytes already read (stdin). */
  static accept(socket: Duplex, multiplexed: boolean, head?: Buffer): Hijacked {
    if (head && head.length > 0) socket.unshift(head);
    writeUpgraded(socket, multiplexed);
    return new Hijacked(socket, multiplexed);
  }

  get closed(): boolean {
    return this.done;
  }

  stdout(data: Uint8Array): void {
    this.send(1, data);
  }

  stderr(data: Uint8Array): void {
    this.send(2, data);
  }

  private send(stream: 1 | 2, data: Uint8Array): void {
    if (this.done || data.length === 0) return;
    this.socket.write(this.multiplexed ? muxFrame(stream, data) : data);
  }

  /** Ends our side once everything written is flushed. */
  close(): void {
    if (this.done) return;
    this.done = true;
    this.socket.end();
  }
}

/**
 * For `POST /exec/{id}/start`: the JSON body (Content-Length bytes) arrives on the socket
 * ahead of stdin. Reads exactly that many bytes from `head` and the socket, and puts any
 * extra bytes back so they are read as stdin. The socket is left paused: resume or pipe it.
 */
export async function readUpgradeBody(socket: Duplex, head: Buffer, contentLength: number): Promise<Buffer> {
  let buf = head;
  while (buf.length < contentLength) {
    const chunk = await new Promise<Buffer | null>((resolve, reject) => {
      const onData = (c: Buffer) => {
        cleanup();
        socket.pause();
        resolve(c);
      };
      const onEnd = () => {
        cleanup();
        resolve(null);
      };
      const onError = (e: Error) => {
        cleanup();
        reject(e);
      };
      const cleanup = () => {
        socket.off("data", onData);
        socket.off("end", onEnd);
        socket.off("error", onError);
      };
      socket.on("data", onData);
      socket.on("end", onEnd);
      socket.on("error", onError);
      socket.resume();
    });
    if (chunk === null) break;
    buf = Buffer.concat([buf, chunk]);
  }
  const body = buf.subarray(0, contentLength);
  const rest = buf.subarray(contentLength);
  if (rest.length > 0) socket.unshift(rest);
  return body;
}
