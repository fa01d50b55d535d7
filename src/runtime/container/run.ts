import type { Runtime } from "../context.ts";
import { toState, type ContainerRecord } from "../state.ts";
import { launch, type CreateOptions } from "./create.ts";
import { cleanup, deleteContainer } from "./delete.ts";
import { runHooks } from "./hooks.ts";

export interface RunOptions extends CreateOptions {
  /** Return once started instead of waiting for the container to exit (runc run --detach). */
  detach?: boolean;
  /** Keep the container's state after it exits (runc run --keep). */
  keep?: boolean;
  /** Forward these signals received by this process to the container. */
  forwardSignals?: boolean;
}

const FORWARDED: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"];

/**
 * `run`: create and start in one step. In the foreground it waits for the
 * container and resolves with its exit status (128+N when killed by signal N),
 * then deletes it. Detached, it resolves with 0 once the container runs.
 */
export async function run(rt: Runtime, id: string, o: RunOptions): Promise<number> {
  const foreground = !o.detach;
  const { rec, session } = await launch(rt, id, o, "run", foreground);
  const ev = await session.next();
  if (ev.type !== "sync" || ev.tag !== "start") {
    session.close();
    deleteContainer(rt, id, true);
    throw ev.type === "error" ? ev.error : new Error("container process exited before start");
  }
  session.reply();
  try {
    runHooks("poststart", rec.config.hooks?.poststart, toState(rec, "running"));
  } catch (e) {
    rt.warn((e as Error).message);
  }
  if (!foreground) {
    session.close();
    await session.exited;
    return 0;
  }
  const handlers = new Map<NodeJS.Signals, () => void>();
  if (o.forwardSignals !== false) {
    for (const s of FORWARDED) {
      const h = () => {
        try {
          if (rec.pid) process.kill(rec.pid, s);
        } catch {
          // gone
        }
      };
      handlers.set(s, h);
      process.on(s, h);
    }
  }
  const { code, signal } = await session.exited;
  for (const [s, h] of handlers) process.off(s, h);
  session.close();
  if (!o.keep) finish(rt, rec);
  if (signal) return 128 + (signal === "SIGKILL" ? 9 : 15);
  return code ?? 255;
}

/** Deletes a container that just exited in the foreground: what `delete` does, from memory. */
function finish(rt: Runtime, rec: ContainerRecord): void {
  cleanup(rt, rec);
  try {
    runHooks("poststop", rec.config.hooks?.poststop, toState(rec, "stopped"));
  } catch (e) {
    rt.warn((e as Error).message);
  }
}
