/**
 * The back half of `pier build`: the builder that turns a Dockerfile and a
 * context into an image, step by step, with a cache (see build-run.ts for
 * the rules, state.ts for what a step's result is, cache.ts for the cache).
 *
 * Usage (pierd):
 *   const build = await openBuildBackend({ images: imageBackend, engine, root });
 */
export { openBuildBackend, BuilderBackend } from "./backend.ts";
export { Builder, type BuilderOptions, type BuildRequest, type BuildResult } from "./builder.ts";
export { RunFailed } from "./build-run.ts";
export { BuildCache } from "./cache.ts";
export { EngineRunner } from "./engine-runner.ts";
export { Reporter, type OutputSink, type OutputStyle } from "./output.ts";
export type { ContainerRunner, OutputChunk, RunSpec, StepContainer } from "./runner.ts";
export { shortId, type ImageState } from "./state.ts";
