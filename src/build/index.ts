/**
 * The front half of `pier build`: everything before and around running a
 * Dockerfile that needs no container — the Dockerfile language, the build
 * context and .dockerignore, COPY/ADD file selection and checksums, and
 * cache keys. The executor (RUN in a container, layers, commits) builds on it.
 *
 * Usage:
 *   const df = parseDockerfile(await readFile(dockerfilePath), { file: "Dockerfile" });
 *   const plan = planStages(df, { target, buildArgs });
 *   const context = await BuildContext.open(contextDir, { dockerfile: dockerfilePath });
 *   // for each stage in plan.order: StageScope → expand → planCopy/runCommand → cacheKey
 */
export * from "./dockerfile/index.ts";
export {
  BuildContext,
  byteOrder,
  DirTree,
  walkContext,
  type ContextEntry,
  type SourceTree,
} from "./context.ts";
export { IgnoreMatcher, loadDockerignore, parseDockerignore } from "./dockerignore.ts";
export { checkGlob, cleanPath, globMatch, hasWildcards } from "./glob.ts";
export * from "./copy/index.ts";
export { CACHE_KEY_VERSION, cacheKey, type CacheKeyInput } from "./cache-key.ts";
