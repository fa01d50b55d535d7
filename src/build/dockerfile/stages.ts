/**
 * Which stages a build needs, and in what order.
 *
 * A stage's base is `scratch`, an earlier stage (FROM <name>), or an image.
 * It also needs every stage named by `COPY --from=<name|index>` or
 * `RUN --mount=from=<name|index>`; such a name that is no stage is an image
 * reference (`COPY --from=nginx:1.25 ...`). A stage can only use stages
 * defined before it. The target is `--target` (by name) or the last stage;
 * only the stages it needs are built, in file order (which puts every stage
 * after the stages it needs).
 *
 * Usage:
 *   const plan = planStages(df, { target: "test", buildArgs: { GO: "1.22" } });
 *   plan.order    // [0, 2]: indices of the stages to build
 *   plan.images   // ["docker.io/library/golang:1.22"]: written as in the Dockerfile, expanded
 */
import type { Dockerfile, Stage } from "./ast.ts";
import { atLocation, invalid, suggest, syntaxError } from "./errors.ts";
import { processWord } from "./lexer.ts";
import { csvFields } from "./mounts.ts";
import { GlobalScope, PROXY_ARGS, type ScopeOptions } from "./scope.ts";

export type StageBase =
  { kind: "scratch" } | { kind: "stage"; index: number } | { kind: "image"; ref: string };

export interface PlannedStage {
  stage: Stage;
  /** The stage's name, or `stage-<index>`. */
  displayName: string;
  /** FROM, with the global ARGs expanded. */
  base: StageBase;
  /** FROM --platform, expanded and normalised. */
  platform?: string;
  /** The global ARGs the FROM line used. */
  fromArgs: Record<string, string>;
  /** Indices of the stages this one needs (its base, COPY --from, RUN --mount from=). */
  dependsOn: number[];
  /** Images named by COPY --from or RUN --mount from= (the base image is in `base`). */
  images: string[];
}

export interface StagePlan {
  globals: GlobalScope;
  /** Every stage of the file, in order. */
  stages: PlannedStage[];
  target: PlannedStage;
  /** Indices of the stages to build, in build order. */
  order: number[];
  /** Every image the build needs (bases and --from), first use first. */
  images: string[];
  /** --build-args that no needed stage (nor the global scope) declares: Docker warns about them. */
  unusedBuildArgs: string[];
}

export interface PlanOptions extends ScopeOptions {
  /** The stage to build (by name); default the last one. */
  target?: string;
}

const PLATFORM_ARGS = [
  "BUILDPLATFORM",
  "BUILDOS",
  "BUILDARCH",
  "BUILDVARIANT",
  "TARGETPLATFORM",
  "TARGETOS",
  "TARGETARCH",
  "TARGETVARIANT",
  "TARGETSTAGE",
];

export function planStages(df: Dockerfile, opts: PlanOptions = {}): StagePlan {
  const targetStage = findTarget(df, opts.target);
  const scopeOpts: ScopeOptions = { ...opts };
  if (targetStage.name !== undefined) scopeOpts.target = targetStage.name;
  const globals = GlobalScope.create(df, scopeOpts);
  const byName = new Map<string, Stage>();
  for (const s of df.stages) if (s.name !== undefined) byName.set(s.name, s);
  const display = (s: Stage) => s.name ?? `stage-${s.index}`;

  const planned: PlannedStage[] = df.stages.map((stage) => {
    const from = globals.expandFrom(stage.from);
    const earlier = byName.get(from.image.toLowerCase());
    const base: StageBase =
      from.image === "scratch"
        ? { kind: "scratch" }
        : earlier && earlier.index < stage.index
          ? { kind: "stage", index: earlier.index }
          : { kind: "image", ref: from.image };
    const p: PlannedStage = {
      stage,
      displayName: display(stage),
      base,
      fromArgs: from.usedArgs,
      dependsOn: base.kind === "stage" ? [base.index] : [],
      images: [],
    };
    if (from.platform !== undefined) p.platform = from.platform;

    const use = (ref: string, loc: Stage["from"]["loc"], what: string) => {
      if (hasVariable(ref)) {
        throw syntaxError(
          loc,
          `variable expansion is not supported for ${what}`,
          "define a new stage with FROM using ARG from global scope, and name that stage instead",
        );
      }
      let dep: Stage | undefined;
      if (/^\d+$/.test(ref)) {
        dep = df.stages[Number(ref)];
        if (!dep)
          throw syntaxError(
            loc,
            `invalid stage index ${ref}`,
            `stages are numbered from 0 to ${df.stages.length - 1}`,
          );
      } else {
        dep = byName.get(ref.toLowerCase());
      }
      if (!dep) {
        if (!p.images.includes(ref)) p.images.push(ref);
        return;
      }
      if (dep.index >= stage.index) {
        throw syntaxError(
          loc,
          `cannot copy from stage ${JSON.stringify(ref)}, it needs to be defined before current stage ${JSON.stringify(display(stage))}`,
          "move the stage it names above this one",
        );
      }
      if (!p.dependsOn.includes(dep.index)) p.dependsOn.push(dep.index);
    };
    for (const ins of stage.instructions) {
      if (ins.kind === "COPY" && ins.from !== undefined) use(ins.from, ins.loc, "--from");
      if (ins.kind === "RUN") {
        for (const m of ins.mounts) {
          let from: string | undefined;
          try {
            for (const f of csvFields(m)) {
              const eq = f.indexOf("=");
              if (eq > 0 && f.slice(0, eq).toLowerCase() === "from") from = f.slice(eq + 1);
            }
          } catch (err) {
            throw atLocation(err, ins.loc);
          }
          if (from !== undefined) use(from, ins.loc, "--mount from=");
        }
      }
    }
    return p;
  });

  const needed = new Set<number>();
  const visit = (i: number) => {
    if (needed.has(i)) return;
    needed.add(i);
    for (const d of planned[i]?.dependsOn ?? []) visit(d);
  };
  visit(targetStage.index);
  const order = [...needed].sort((a, b) => a - b);

  const images: string[] = [];
  const declared = new Set<string>([...PROXY_ARGS, ...PLATFORM_ARGS]);
  for (const ins of df.globalArgs) for (const a of ins.args) declared.add(a.name);
  for (const i of order) {
    const p = planned[i] as PlannedStage;
    if (p.base.kind === "image" && !images.includes(p.base.ref)) images.push(p.base.ref);
    for (const ref of p.images) if (!images.includes(ref)) images.push(ref);
    for (const ins of p.stage.instructions)
      if (ins.kind === "ARG") for (const a of ins.args) declared.add(a.name);
  }
  const unusedBuildArgs = [...globals.buildArgs.keys()].filter((k) => !declared.has(k)).sort();

  return {
    globals,
    stages: planned,
    target: planned[targetStage.index] as PlannedStage,
    order,
    images,
    unusedBuildArgs,
  };
}

function findTarget(df: Dockerfile, target: string | undefined): Stage {
  if (target === undefined || target === "") return df.stages[df.stages.length - 1] as Stage;
  const s = df.stages.find((x) => x.name === target.toLowerCase());
  if (s) return s;
  const names = df.stages.flatMap((x) => (x.name !== undefined ? [x.name] : []));
  const close = suggest(target, names);
  const err = invalid(
    `target stage ${JSON.stringify(target)} could not be found`,
    close !== undefined
      ? `did you mean ${close}?`
      : names.length
        ? `the stages named in ${df.file} are: ${names.join(", ")}`
        : `no stage in ${df.file} has a name; name one with FROM <image> AS <name>`,
  );
  throw err;
}

function hasVariable(ref: string): boolean {
  if (ref.includes("$")) return true;
  try {
    return processWord(ref, () => undefined).value !== ref;
  } catch {
    return true;
  }
}
