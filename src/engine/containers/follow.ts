/**
 * Following a json-file log as it grows: the live half of attach, `logs -f` and exec
 * streams. Records are yielded as the monitor wrote them (partial lines included, so a
 * prompt shows at once). The follower ends when `done()` says the writer is gone and
 * everything written has been read.
 *
 *   for await (const r of followLog(path, { from: size, done: () => exited() })) send(r);
 */
import { watch, type FSWatcher } from "node:fs";
import { open, stat } from "node:fs/promises";
import { StringDecoder } from "node:string_decoder";
import type { LogEntry } from "../monitor/index.ts";

export interface FollowOptions {
  /** Byte offset to start at (default 0: the whole log). */
  from?: number;
  /** True once nothing more will be written (checked when the end is reached). */
  done: () => boolean;
  /** Stops following early (a client went away). */
  signal?: AbortSignal;
  /** Longest wait between looks at the file when no change is reported (default 100 ms). */
  pollMs?: number;
}

/** The log's current size (0 when absent): where a follower starting "now" begins. */
export async function logSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

export async function* followLog(path: string, o: FollowOptions): AsyncGenerator<LogEntry> {
  let offset = o.from ?? 0;
  let pending = "";
  const decoder = new StringDecoder("utf8");
  let wake: (() => void) | undefined;
  const poke = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  let watcher: FSWatcher | undefined;
  const onAbort = () => poke();
  o.signal?.addEventListener("abort", onAbort);
  // The file is opened once and read through that descriptor: a container removed right
  // after it exits (--rm) takes its directory away, but not what was written.
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    for (;;) {
      if (o.signal?.aborted) return;
      if (!watcher) {
        try {
          watcher = watch(path, { persistent: false }, poke);
          watcher.on("error", () => undefined);
        } catch {
          // not there yet: poll
        }
      }
      // Check done() before reading, so whatever was written before it turned true is read.
      const finished = o.done();
      let got = false;
      fh ??= await open(path, "r").catch(() => undefined);
      if (fh) {
        const buf = Buffer.alloc(64 * 1024);
        for (;;) {
          const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
          if (bytesRead === 0) break;
          offset += bytesRead;
          got = true;
          pending += decoder.write(buf.subarray(0, bytesRead));
          let nl: number;
          while ((nl = pending.indexOf("\n")) >= 0) {
            const line = pending.slice(0, nl);
            pending = pending.slice(nl + 1);
            if (!line) continue;
            try {
              yield JSON.parse(line) as LogEntry;
            } catch {
              // a torn record
            }
            if (o.signal?.aborted) return;
          }
        }
      }
      if (finished && !got) return;
      if (got) continue;
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(poke, o.pollMs ?? 100);
      });
    }
  } finally {
    await fh?.close().catch(() => undefined);
    watcher?.close();
    o.signal?.removeEventListener("abort", onAbort);
  }
}
