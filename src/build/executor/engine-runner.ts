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
import { attach } from "../../engine/containers/streams.ts";
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
    const rec = await this.engine.get(c.id);
    const io = await attach(this.engine, rec, {
      stdin: false,
      stdout: true,
      stderr: true,
      logs: false,
      stream: true,
    });
    const exited = this.engine.wait(c.id, "next-exit");
    const onAbort = () => void this.engine.kill(c.id, "KILL").catch(() => undefined);
    try {
      await this.engine.start(c.id);
      signal?.addEventListener("abort", onAbort, { once: true });
      if (signal?.aborted) onAbort();
      for await (const chunk of io.output) onOutput(chunk);
      const { StatusCode } = await exited;
      if (signal?.aborted) throw new PierError("Unavailable", "the build was cancelled");
      return StatusCode;
    } finally {
      signal?.removeEventListener("abort", onAbort);
      io.close();
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
