import { closeSync, constants, openSync, readSync, unlinkSync } from "node:fs";
import { PierError, precondition } from "../../common/errors.ts";
import type { Runtime } from "../context.ts";
import { statusOf, toState } from "../state.ts";
import { runHooks } from "./hooks.ts";

/** `start`: releases a created container (opens its exec fifo), then runs poststart hooks. */
export function start(rt: Runtime, id: string): void {
  const rec = rt.store.load(id);
  const status = statusOf(rec, rt.store, () => false);
  if (status !== "created")
    throw precondition(`cannot start container "${id}": it is ${status}, not created`);
  const fifo = rt.store.fifo(id);
  const fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const buf = Buffer.alloc(1);
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const until = Date.now() + 10_000;
  try {
    for (;;) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, 1, null);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
        if (Date.now() > until) throw new PierError("Unavailable", `container "${id}" did not answer start`);
        Atomics.wait(cell, 0, 0, 1);
        continue;
      }
      if (n === 0) throw precondition(`cannot start container "${id}": its process is gone`);
      break;
    }
  } finally {
    closeSync(fd);
  }
  unlinkSync(fifo);
  try {
    runHooks("poststart", rec.config.hooks?.poststart, toState(rec, "running"));
  } catch (e) {
    rt.warn((e as Error).message);
  }
}
