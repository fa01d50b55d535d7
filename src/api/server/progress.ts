/**
 * JSON-lines progress streams (pull, push, load, build): 200 headers with the first
 * message (or at once with `start()`), then one JSON object per line separated by `\r\n`,
 * as dockerd writes them. `fail(err)` before anything was sent rethrows, so the error
 * gets its proper status ("Error response from daemon: …" in the CLI); after, it becomes
 * a last line `{"errorDetail":{"message"},"error"}`, which the docker CLI prints and
 * exits 1 on.
 */
import type { ServerResponse } from "node:http";
import { PierError } from "../../common/errors.ts";
import type { ProgressEvent } from "../backend.ts";
import type { JsonMessage } from "../types.ts";

export class JsonStream {
  private closed = false;
  private started = false;

  constructor(private readonly res: ServerResponse) {
    res.on("close", () => {
      this.closed = true;
    });
  }

  /** Sends the 200 headers now (long operations that print nothing for a while). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.res.writeHead(200, { "Content-Type": "application/json" });
    this.res.flushHeaders();
  }

  get hasStarted(): boolean {
    return this.started;
  }

  /** True once the client went away; long operations may stop early. */
  get aborted(): boolean {
    return this.closed;
  }

  write(msg: JsonMessage): void {
    if (this.closed || this.res.writableEnded) return;
    this.start();
    this.res.write(JSON.stringify(msg) + "\r\n");
  }

  progress(e: ProgressEvent): void {
    this.write(progressMessage(e));
  }

  /** Reports a failure: rethrown when nothing was sent yet, else an error line. */
  fail(err: unknown): void {
    if (!this.started) throw err;
    this.error(err);
  }

  /** Writes an error line. */
  error(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    const detail: { code?: number; message: string } = { message };
    if (err instanceof PierError && err.kind === "Internal") detail.code = 1;
    this.write({ errorDetail: detail, error: message });
  }

  end(): void {
    this.start();
    if (!this.res.writableEnded) this.res.end();
  }
}

export function progressMessage(e: ProgressEvent): JsonMessage {
  const m: JsonMessage = { status: e.status, progressDetail: {} };
  if (e.current !== undefined || e.total !== undefined) {
    const d: { current?: number; total?: number } = {};
    if (e.current !== undefined) d.current = e.current;
    if (e.total !== undefined) d.total = e.total;
    m.progressDetail = d;
  }
  if (e.id !== undefined) m.id = e.id;
  return m;
}
