/**
 * The Dockerfile syntax tree: a file is global ARGs followed by stages, each
 * stage a FROM and its instructions. Every instruction keeps its location
 * (file, first and last physical line, here-document bodies included) and its
 * original text, and holds its arguments as WRITTEN: variables are not
 * expanded here (see scope.ts, which expands them with the ARG/ENV values in
 * force at that point of the build).
 *
 * Usage:
 *   const df = parseDockerfile("FROM busybox AS base\nRUN echo hi\n");
 *   df.stages[0]?.instructions[0]  // { kind: "RUN", command: { form: "shell", text: "echo hi" }, ... }
 */
import type { Location } from "./errors.ts";
import type { Heredoc } from "./heredoc.ts";

/** A command line: a JSON array (exec form) or text given to the shell (shell form). */
export type CommandLine = { form: "exec"; argv: string[] } | { form: "shell"; text: string };

export interface KeyValue {
  key: string;
  value: string;
}

interface Base {
  loc: Location;
  /** The instruction's logical line as written (continuations joined, comments removed). */
  original: string;
  /** The instruction keyword as written (`run`, `Run` and `RUN` are all RUN). */
  keyword: string;
  /** The flags as written, e.g. ["--from=build"]. */
  flags: string[];
}

export interface FromInstruction extends Base {
  kind: "FROM";
  /** The base: an image reference, `scratch`, or an earlier stage's name (may hold ${ARGS}). */
  image: string;
  /** The stage name after AS, lower-cased. */
  name?: string;
  /** --platform (may hold ${ARGS}). */
  platform?: string;
}

export interface RunInstruction extends Base {
  kind: "RUN";
  command: CommandLine;
  /** Here-documents named on the line, with their bodies. */
  heredocs: Heredoc[];
  /** --mount values as written (parsed by mounts.ts after expansion). */
  mounts: string[];
  /** --network: default | none | host. */
  network?: string;
  /** --security: sandbox | insecure. */
  security?: string;
}

export interface CmdInstruction extends Base {
  kind: "CMD";
  command: CommandLine;
}

export interface EntrypointInstruction extends Base {
  kind: "ENTRYPOINT";
  command: CommandLine;
}

/** A COPY/ADD source given inline as a here-document (`COPY <<EOF /dest`). */
export interface InlineSource {
  /** The file name the body is written as (the here-document's name). */
  name: string;
  /** The body, tabs already stripped for `<<-`. */
  content: string;
  /** Whether variables in the body are expanded. */
  expand: boolean;
}

interface CopyLike extends Base {
  /** Source paths as written (may hold wildcards and ${ARGS}). */
  sources: string[];
  /** Sources given as here-documents. */
  inline: InlineSource[];
  dest: string;
  chown?: string;
  chmod?: string;
  link: boolean;
  /** --exclude patterns. */
  excludes: string[];
  /** Written as a JSON array. */
  json: boolean;
}

export interface CopyInstruction extends CopyLike {
  kind: "COPY";
  /** --from: a stage name, a stage index, or an image reference. */
  from?: string;
  parents: boolean;
}

export interface AddInstruction extends CopyLike {
  kind: "ADD";
  keepGitDir?: boolean;
  checksum?: string;
  /** --unpack: whether local archives are extracted (default true). */
  unpack?: boolean;
}

export interface EnvInstruction extends Base {
  kind: "ENV";
  pairs: KeyValue[];
  /** Written in the legacy `ENV key value` form. */
  legacy: boolean;
}

export interface LabelInstruction extends Base {
  kind: "LABEL";
  pairs: KeyValue[];
  legacy: boolean;
}

export interface ArgDefinition {
  name: string;
  /** The default as written (undefined: declared without one). */
  default?: string;
}

export interface ArgInstruction extends Base {
  kind: "ARG";
  args: ArgDefinition[];
}

export interface WorkdirInstruction extends Base {
  kind: "WORKDIR";
  path: string;
}

export interface UserInstruction extends Base {
  kind: "USER";
  user: string;
}

export interface ExposeInstruction extends Base {
  kind: "EXPOSE";
  ports: string[];
}

export interface VolumeInstruction extends Base {
  kind: "VOLUME";
  paths: string[];
}

export interface ShellInstruction extends Base {
  kind: "SHELL";
  shell: string[];
}

export interface StopSignalInstruction extends Base {
  kind: "STOPSIGNAL";
  signal: string;
}

export type Healthcheck =
  | { type: "NONE" }
  | {
      type: "CMD";
      command: CommandLine;
      /** Durations in nanoseconds, 0 when not given (inherit). */
      intervalNs: number;
      timeoutNs: number;
      startPeriodNs: number;
      startIntervalNs: number;
      retries: number;
    };

export interface HealthcheckInstruction extends Base {
  kind: "HEALTHCHECK";
  health: Healthcheck;
}

export interface OnbuildInstruction extends Base {
  kind: "ONBUILD";
  /** The trigger as stored in the image config (text after ONBUILD, here-document bodies appended). */
  expression: string;
  /** The trigger, parsed (checked now; it runs in a later build that uses this image). */
  trigger: Instruction;
}

export interface MaintainerInstruction extends Base {
  kind: "MAINTAINER";
  maintainer: string;
}

export type Instruction =
  | FromInstruction
  | RunInstruction
  | CmdInstruction
  | EntrypointInstruction
  | CopyInstruction
  | AddInstruction
  | EnvInstruction
  | LabelInstruction
  | ArgInstruction
  | WorkdirInstruction
  | UserInstruction
  | ExposeInstruction
  | VolumeInstruction
  | ShellInstruction
  | StopSignalInstruction
  | HealthcheckInstruction
  | OnbuildInstruction
  | MaintainerInstruction;

export type InstructionKind = Instruction["kind"];

export const INSTRUCTION_KINDS: readonly InstructionKind[] = [
  "ADD",
  "ARG",
  "CMD",
  "COPY",
  "ENTRYPOINT",
  "ENV",
  "EXPOSE",
  "FROM",
  "HEALTHCHECK",
  "LABEL",
  "MAINTAINER",
  "ONBUILD",
  "RUN",
  "SHELL",
  "STOPSIGNAL",
  "USER",
  "VOLUME",
  "WORKDIR",
];

export interface Stage {
  /** Position among the stages, from 0 (what `COPY --from=0` names). */
  index: number;
  /** The name after AS (lower-cased), if any. */
  name?: string;
  from: FromInstruction;
  /** The stage's instructions after FROM. */
  instructions: Instruction[];
}

export interface Directive {
  /** Lower-cased: syntax, escape or check. */
  name: string;
  value: string;
  line: number;
}

export interface Warning {
  loc: Location;
  message: string;
}

export interface Dockerfile {
  file: string;
  /** The escape character in force: `\` or `` ` ``. */
  escape: string;
  directives: Directive[];
  /** The `# syntax=` directive, if any (pier has one built-in frontend; it is recorded, not fetched). */
  syntax?: string;
  /** ARG instructions before the first FROM (usable in FROM lines). */
  globalArgs: ArgInstruction[];
  stages: Stage[];
  /** Things Docker accepts but warns about (deprecated forms, empty continuation lines…). */
  warnings: Warning[];
}
