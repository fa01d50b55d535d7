/**
 * RUN steps in real containers of pier's engine: created from the step's
 * parent image with the RUN argv as its command (no entrypoint), the stage's
 * environment, working directory and user, on the default bridge network
 * unless `--network` says otherwise (so package managers reach their
 * mirrors), with health checks off. Output is read from the container's log
 * as it is written; after the exit the writable layer (`container-<id>`
 * snapshot) is left for the builder to archive, then the container and its
 * anonymous volumes are removed.
 *
 *   const runner = new EngineRunner(engine);
 */
import { PierError } from "../../common/errors.ts";
import type { Engine } from "../../engine/containers/engine.ts";
import { followLog } from "../../engine/containers/follow.ts";
import {
  BUILD_LABEL,
  type ContainerRunner,
  type OutputChunk,
  type RunSpec,
  type StepContainer,
} from "./runner.ts";

export class EngineRunner implements ContainerRunner {
  constructor(private readonly engine: Engine) {}

  async create(spec: RunSpec): Promise<StepContainer> {
    const { Id } = await this.engine.create({
      Image: spec.image,
      Cmd: spec.argv,
      Entrypoint: [""],
      Env: spec.env,
      WorkingDir: spec.workdir,
      User: spec.user,
      Labels: spec.labels,
      Healthcheck: { Test: ["NONE"] },
      AttachStdout: true,
      AttachStderr: true,
      HostConfig: {
        NetworkMode: spec.network,
        Binds: spec.files.map((f) => `${f.hostPath}:${f.path}:ro`),
      },
    });
    const rec = await this.engine.get(Id);
    return { id: Id, snapshotKey: rec.snapshotKey };
  }

  async run(c: StepContainer, onOutput: (chunk: OutputChunk) => void, signal?: AbortSignal): Promise<number> {
    // The log is read as the monitor writes it; the follower stops once the exit is known
    // and everything written before it has been read (a short poll: a step's end waits on it).
    let exitedNow = false;
    const exited = this.engine.wait(c.id, "next-exit").then((r) => {
      exitedNow = true;
      return r;
    });
    const onAbort = () => void this.engine.kill(c.id, "KILL").catch(() => undefined);
    const stop = new AbortController();
    try {
      await this.engine.start(c.id);
      signal?.addEventListener("abort", onAbort, { once: true });
      if (signal?.aborted) onAbort();
      const log = this.engine.files(c.id).log;
      for await (const e of followLog(log, { done: () => exitedNow, signal: stop.signal, pollMs: 10 }))
        onOutput({ stream: e.stream === "stderr" ? 2 : 1, data: Buffer.from(e.log, "utf8") });
      const { StatusCode } = await exited;
      if (signal?.aborted) throw new PierError("Unavailable", "the build was cancelled");
      return StatusCode;
    } finally {
      stop.abort();
      signal?.removeEventListener("abort", onAbort);
    }
  }

  /** Containers labelled pier.build are step containers: none outlives its build. */
  async sweep(): Promise<void> {
    for (const rec of await this.engine.list()) {
      if (rec.config.Labels?.[BUILD_LABEL] === undefined) continue;
      await this.remove({ id: rec.id, snapshotKey: rec.snapshotKey }).catch(() => undefined);
    }
  }

  async remove(c: StepContainer): Promise<void> {
    await this.engine.remove(c.id, { force: true, volumes: true }).catch((err: unknown) => {
      if (!(err instanceof PierError && err.kind === "NotFound")) throw err;
    });
  }
}
