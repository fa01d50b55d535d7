/**
 * The Dockerfile language: parse a file into stages and typed instructions,
 * expand variables with Docker's ARG/ENV rules, choose the stages a target
 * needs, and say what a RUN executes.
 *
 * Usage:
 *   const df = parseDockerfile(text, { file: "Dockerfile" });
 *   const plan = planStages(df, { target: "app", buildArgs: { VERSION: "1.0" } });
 *   for (const i of plan.order) {
 *     const scope = StageScope.fromImage(plan.globals, baseImageEnv);
 *     for (const ins of plan.stages[i]!.stage.instructions) {
 *       const ev = scope.expand(ins);
 *       const key = cacheKey({ parent, instruction: instructionText(ev), buildArgs: ev.usedArgs });
 *     }
 *   }
 */
export type * from "./ast.ts";
export { INSTRUCTION_KINDS } from "./ast.ts";
export { formatDuration, parseDuration } from "./duration.ts";
export type { Location } from "./errors.ts";
export { chompHeredoc, heredocBody, type Heredoc } from "./heredoc.ts";
export { processWord, processWords, type LexOptions, type Lookup, type Processed } from "./lexer.ts";
export { parseMount, type Mount, type MountType } from "./mounts.ts";
export { instructionText, type NormalizeOptions } from "./normalize.ts";
export type { Node as RawNode } from "./node.ts";
export { parseDockerfile, parseLines, type ParsedLines, type ParseOptions } from "./parse.ts";
export { parsePorts } from "./ports.ts";
export {
  commandArgv,
  DEFAULT_SHELL,
  healthcheckTest,
  runCommand,
  type RunCommand,
  type RunFile,
} from "./run.ts";
export {
  formatPlatform,
  GlobalScope,
  parsePlatform,
  parseSignal,
  PROXY_ARGS,
  resolveWorkdir,
  StageScope,
  type Evaluated,
  type Platform,
  type ScopeOptions,
} from "./scope.ts";
export { planStages, type PlannedStage, type PlanOptions, type StageBase, type StagePlan } from "./stages.ts";
