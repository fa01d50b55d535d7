/**
 * What a RUN step needs from the container engine, as a narrow interface: a
 * container made from an image, started with the output streamed back, its
 * writable layer left in place for the builder to archive, then removed.
 *
 *   const c = await runner.create({ image: state.id, argv: ["/bin/sh", "-c", "make"], env, ... });
 *   try {
 *     const code = await runner.run(c, (chunk) => show(chunk.data), signal);
 *     if (code === 0) layer = await diffSnapshot(images, c.snapshotKey, parentChain, epoch);
 *   } finally {
 *     await runner.remove(c);
 *   }
 *
 * engine-runner.ts implements it over pier's Engine (pierd's containers, the
 * default bridge network); tests can give a fake.
 */

/** The label on every step container and build snapshot (value: the build's ID). */
export const BUILD_LABEL = "pier.build";

export interface RunSpec {
  /** The image to run (an image ID that resolves in the image service). */
  image: string;
  argv: string[];
  /** KEY=value, the whole environment. */
  env: string[];
  workdir: string;
  user: string;
  /** "bridge" (default), "none", "host" or a network name. */
  network: string;
  /** Files the process gets at a path, read-only (e.g. a here-document script). */
  files: { hostPath: string; path: string }[];
  labels: Record<string, string>;
}

export interface StepContainer {
  id: string;
  /** The active snapshot holding its writable layer. */
  snapshotKey: string;
}

export interface OutputChunk {
  /** 1 stdout, 2 stderr. */
  stream: 1 | 2;
  data: Buffer;
}

export interface ContainerRunner {
  create(spec: RunSpec): Promise<StepContainer>;
  /** Starts it, streams its output until it exits, returns the exit code; kills it on abort. */
  run(c: StepContainer, onOutput: (chunk: OutputChunk) => void, signal?: AbortSignal): Promise<number>;
  /** Removes it (and any anonymous volume it got); never throws for a container already gone. */
  remove(c: StepContainer): Promise<void>;
  /** Removes step containers a crashed build left (called when the builder opens). */
  sweep?(): Promise<void>;
}
