/**
 * docker's stdcopy: the 8-byte framing of stdout/stderr on a hijacked connection or a logs
 * body when the container has no TTY: `[stream, 0, 0, 0, len:uint32 BE] payload`, with
 * stream 0 stdin, 1 stdout, 2 stderr (3 is a systemerr frame some servers send).
 */

export type StdStream = 0 | 1 | 2 | 3;

export interface Frame {
  stream: number;
  payload: Buffer;
}

/** Splits a multiplexed byte stream into frames, across chunk boundaries. */
export class StdDemuxer {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Uint8Array): Frame[] {
    this.buf = this.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk]);
    const out: Frame[] = [];
    while (this.buf.length >= 8) {
      const len = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + len) break;
      out.push({ stream: this.buf[0]!, payload: this.buf.subarray(8, 8 + len) });
      this.buf = this.buf.subarray(8 + len);
    }
    return out;
  }

  /** Bytes of an incomplete frame still held (nonzero at the end means a cut stream). */
  get pending(): number {
    return this.buf.length;
  }
}

/** One frame, as a server writes it. */
export function frame(stream: StdStream, payload: Uint8Array): Buffer {
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

export interface StdSinks {
  stdout(b: Buffer): void;
  stderr(b: Buffer): void;
}

/**
 * Copies a body to the sinks: raw bytes to stdout when `tty`, else demultiplexed frames.
 * Resolves when the body ends. A systemerr frame (3) rejects with its text.
 */
export async function copyStd(body: AsyncIterable<Uint8Array>, tty: boolean, sinks: StdSinks): Promise<void> {
  const d = new StdDemuxer();
  for await (const chunk of body) {
    if (tty) {
      sinks.stdout(Buffer.from(chunk));
      continue;
    }
    for (const f of d.push(chunk)) {
      if (f.stream === 2) sinks.stderr(f.payload);
      else if (f.stream === 3) throw new Error(`error from daemon in stream: ${f.payload.toString("utf8")}`);
      else sinks.stdout(f.payload);
    }
  }
}
