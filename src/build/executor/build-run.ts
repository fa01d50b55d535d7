/**
 * One build: a parsed Dockerfile turned into an image, step by step.
 *
 * For each stage the target needs (in file order), FROM gives the first
 * state (an image, pulled when missing or with --pull; an earlier stage's
 * result; or scratch), the base image's ONBUILD triggers run, then each
 * instruction makes the next state:
 *
 *   RUN                  a container of the engine (runner.ts) on the parent
 *                        state; its writable layer becomes the step's layer
 *   COPY, ADD            the parent's root file system mounted, the planned
 *                        files written (apply-copy.ts), the changes a layer
 *   WORKDIR              a layer only when the directory had to be made
 *   everything else      config only: no layer, an `empty_layer` history entry
 *
 * Before doing a step, its cache key (cache-key.ts: parent state, canonical
 * instruction, the ARGs it uses, the content of the files it copies,
 * SOURCE_DATE_EPOCH) is looked up; a hit is that step's state, unchanged.
 * Every state a step makes goes into the cache, also with --no-cache.
 *
 * Times are normalized: every created time and every file time in a layer is
 * clamped to SOURCE_DATE_EPOCH (a --build-arg), 0 when not given, so the same
 * Dockerfile and context give the same image ID anywhere.
 *
 * Errors name the Dockerfile and line (`Dockerfile:4: …`); a failing RUN's
 * error carries its exit code and, when the output was not shown, its tail.
 */
import { chownSync, mkdirSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join, posix } from "node:path";
import { PierError } from "../../common/errors.ts";
import { chainIDs, type ImageService, type ResolvedImage } from "../../image/service/service.ts";
import { blobNode } from "../../image/store/metadata.ts";
import type { ConfigJSON, ContainerConfig } from "../../image/service/oci.ts";
import { cacheKey } from "../cache-key.ts";
import { BuildContext, DirTree, type SourceTree } from "../context.ts";
import { copyChecksum } from "../copy/checksum.ts";
import { planCopy, type CopyPlan, type CopyPlanOptions } from "../copy/plan.ts";
import { resolveInTree } from "../copy/resolve.ts";
import { resolveChown } from "../copy/owner.ts";
import type {
  AddInstruction,
  CopyInstruction,
  Dockerfile,
  Instruction,
  RunInstruction,
} from "../dockerfile/ast.ts";
import { atLocation, syntaxError, where } from "../dockerfile/errors.ts";
import { instructionText } from "../dockerfile/normalize.ts";
import { parseDockerfile } from "../dockerfile/parse.ts";
import { DEFAULT_SHELL, runCommand } from "../dockerfile/run.ts";
import { resolveWorkdir, StageScope, type Evaluated } from "../dockerfile/scope.ts";
import type { PlannedStage, StagePlan } from "../dockerfile/stages.ts";
import { applyCopy } from "./apply-copy.ts";
import type { BuildCache } from "./cache.ts";
import { configAfter, displayText, historyText } from "./config-step.ts";
import type { ImageHolds } from "./holds.ts";
import type { Reporter, StepReporter } from "./output.ts";
import { fetchUrl, isUrl, type Fetched } from "./fetch-url.ts";
import { diffSnapshot, type MountedRootfs, type Workspace } from "./rootfs.ts";
import { BUILD_LABEL, type ContainerRunner } from "./runner.ts";
import { childState, loadState, scratchState, stateOfImage, type ImageState } from "./state.ts";

/** A RUN that exited non-zero. `exitCode` becomes the client's exit status, as with docker. */
export class RunFailed extends PierError {
  constructor(
    message: string,
    readonly exitCode: number,
    hint: string,
  ) {
    super("FailedPrecondition", message, { hint });
  }
}

export interface RunDeps {
  images: ImageService;
  runner: ContainerRunner;
  cache: BuildCache;
  holds: ImageHolds;
  workspace: Workspace;
  reporter: Reporter;
  /** Fetches an image from its registry (absent: missing images are an error). */
  pull?: (ref: string) => Promise<void>;
  /** The build's own directory (scratch files). */
  dir: string;
  buildId: string;
  signal?: AbortSignal;
}

export interface RunOptions {
  context: BuildContext;
  noCache: boolean;
  pull: boolean;
  /** The default network of RUN steps. */
  network: string;
  sourceDateEpoch: number;
  /** --label: a LABEL step appended to the target stage. */
  labels: Record<string, string>;
}

interface StageState {
  state: ImageState;
  scope: StageScope;
  /** Whether CMD was set in this stage (ENTRYPOINT then keeps it). */
  cmdSet: boolean;
  /** The base image had ONBUILD triggers: they are not inherited further. */
  dropOnBuild: boolean;
  planned: PlannedStage;
}

const OUTPUT_TAIL = 30;
export const BUILD_LEASE_PREFIX = "lease:build-";

export class BuildRun {
  private readonly done = new Map<number, StageState>();
  private step = 0;
  private total = 0;
  private readonly created: string;
  private readonly views: MountedRootfs[] = [];
  private readonly trees = new Map<string, SourceTree>();

  constructor(
    private readonly deps: RunDeps,
    private readonly df: Dockerfile,
    private readonly plan: StagePlan,
    private readonly opts: RunOptions,
  ) {
    this.created = new Date(opts.sourceDateEpoch * 1000).toISOString().replace(/\.000Z$/, "Z");
  }

  /**
   * The build's lease: a GC root holding every blob it stores until the build ends (the
   * cache and the image's name hold them after that), so a concurrent `rmi` or prune
   * cannot take a layer between its store and its manifest.
   */
  get lease(): string {
    return `${BUILD_LEASE_PREFIX}${this.deps.buildId}`;
  }

  private hold(digest: string): void {
    this.deps.images.meta.addRef(this.lease, blobNode(digest));
  }

  /** Builds the target stage; returns its final state. */
  async run(): Promise<ImageState> {
    const labelStep = Object.keys(this.opts.labels).length > 0 ? 1 : 0;
    this.total = this.plan.order.reduce(
      (n, i) => n + 1 + (this.plan.stages[i]?.stage.instructions.length ?? 0),
      0,
    );
    this.total += labelStep;
    try {
      for (const i of this.plan.order) {
        const p = this.plan.stages[i];
        if (p) this.done.set(i, await this.buildStage(p));
      }
    } finally {
      for (const v of this.views.splice(0)) await v.release().catch(() => undefined);
    }
    const final = this.done.get(this.plan.target.stage.index);
    if (!final) throw new PierError("Internal", "the target stage was not built");
    return final.state;
  }

  // ---- stages ----------------------------------------------------------------------

  private async buildStage(p: PlannedStage): Promise<StageState> {
    const from = p.stage.from;
    const rep = this.next(from, p);
    let st: StageState;
    try {
      st = await this.fromStep(p, rep);
    } catch (err) {
      throw atLocation(err, from.loc);
    }
    const triggers = (st.state.config.config?.OnBuild as string[] | null | undefined) ?? [];
    if (triggers.length > 0) {
      rep.note(`# Executing ${triggers.length} build trigger${triggers.length > 1 ? "s" : ""}`);
      st.dropOnBuild = true;
      for (const t of triggers) {
        const ins = parseTrigger(t, this.df.file, from.loc.startLine);
        await this.instruction(st, ins, rep);
      }
    }
    rep.done(st.state.id);
    for (const ins of p.stage.instructions) await this.instruction(st, ins);
    if (p === this.plan.target && Object.keys(this.opts.labels).length > 0) {
      const text = `LABEL ${Object.entries(this.opts.labels)
        .map(([k, v]) => `${JSON.stringify(k)}=${JSON.stringify(v)}`)
        .join(" ")}`;
      const ins = parseTrigger(text, "--label", 0);
      await this.instruction(st, ins);
    }
    return st;
  }

  private async fromStep(p: PlannedStage, rep: StepReporter): Promise<StageState> {
    if (p.platform !== undefined && p.platform !== "linux/amd64")
      throw new PierError(
        "NotImplemented",
        `FROM --platform=${p.platform}: only linux/amd64 images are built`,
      );
    const base = p.base;
    if (base.kind === "scratch") {
      const state = scratchState();
      return this.stageState(
        p,
        state,
        StageScope.fromImage(this.plan.globals, state.config.config?.Env ?? []),
      );
    }
    if (base.kind === "stage") {
      const prev = this.done.get(base.index);
      if (!prev) throw new PierError("Internal", `stage ${base.index} was not built`);
      return { ...this.stageState(p, prev.state, StageScope.fromStage(prev.scope)), cmdSet: false };
    }
    const img = await this.image(base.ref, rep);
    const state = stateOfImage(img);
    return this.stageState(p, state, StageScope.fromImage(this.plan.globals, img.config.config?.Env ?? []));
  }

  private stageState(p: PlannedStage, state: ImageState, scope: StageScope): StageState {
    return { state, scope, cmdSet: false, dropOnBuild: false, planned: p };
  }

  /** An image by reference: pulled when missing, or always with --pull. */
  private async image(ref: string, rep: StepReporter): Promise<ResolvedImage> {
    const { images, pull } = this.deps;
    if (this.opts.pull && pull) {
      rep.note(`Pulling ${ref}`);
      await pull(ref);
      return images.resolve(ref);
    }
    try {
      return await images.resolve(ref);
    } catch (err) {
      if (!(err instanceof PierError && err.kind === "NotFound") || !pull) throw err;
    }
    rep.note(`Pulling ${ref} (not here yet)`);
    try {
      await pull(ref);
    } catch (err) {
      throw new PierError("NotFound", `${ref}: no such image here, and the pull failed: ${errText(err)}`, {
        cause: err,
        hint: "make base images with `pier image bootstrap busybox|debian:bookworm`, or `pier load` / `pier pull` them",
      });
    }
    return images.resolve(ref);
  }

  // ---- instructions ------------------------------------------------------------------

  private next(ins: Instruction, p: PlannedStage): StepReporter {
    return this.deps.reporter.step({
      index: ++this.step,
      total: this.total,
      stage: p.displayName,
      text: displayText(ins),
    });
  }

  /** One instruction of a stage (`within`: a build trigger shown under the FROM step). */
  private async instruction(st: StageState, ins: Instruction, within?: StepReporter): Promise<void> {
    this.deps.signal?.throwIfAborted();
    const rep = within ?? this.next(ins, st.planned);
    try {
      const ev = st.scope.expand(ins);
      const e = ev.instruction;
      switch (e.kind) {
        case "RUN":
          await this.runStep(st, ev as Evaluated<RunInstruction>, rep);
          break;
        case "COPY":
        case "ADD":
          await this.copyStep(st, ev as Evaluated<CopyInstruction | AddInstruction>, rep);
          break;
        case "WORKDIR":
          await this.workdirStep(st, ev, rep);
          break;
        case "FROM":
          throw new PierError("InvalidArgument", "FROM inside a stage");
        default:
          await this.configStep(st, ev, rep);
      }
      if (e.kind === "CMD") st.cmdSet = true;
    } catch (err) {
      if (err instanceof RunFailed) throw err;
      throw atLocation(err, ins.loc);
    }
  }

  private shellOf(st: StageState): readonly string[] {
    const s = st.state.config.config?.Shell as string[] | null | undefined;
    return s && s.length > 0 ? s : DEFAULT_SHELL;
  }

  private keyOf(st: StageState, ev: Evaluated, content?: string): string {
    const args = { ...ev.usedArgs };
    if (this.opts.sourceDateEpoch !== 0) args.SOURCE_DATE_EPOCH = String(this.opts.sourceDateEpoch);
    const input = {
      parent: st.state.id,
      instruction: instructionText(ev, { shell: this.shellOf(st) }),
      buildArgs: args,
    };
    return cacheKey(content === undefined ? input : { ...input, contentChecksum: content });
  }

  /** A cache hit for `key`, unless --no-cache. */
  private async cached(key: string): Promise<ImageState | undefined> {
    if (this.opts.noCache) return undefined;
    const digest = await this.deps.cache.get(key);
    if (digest === undefined) return undefined;
    try {
      return await loadState(this.deps.images, digest);
    } catch {
      return undefined; // a damaged entry is a miss
    }
  }

  /** Takes the cached state for `key` when there is one (and says so); false on a miss. */
  private async fromCache(st: StageState, key: string, rep: StepReporter): Promise<boolean> {
    const hit = await this.cached(key);
    if (!hit) return false;
    st.state = hit;
    rep.cached(hit.id);
    return true;
  }

  /** The next state's container config, before the instruction's own change. */
  private baseConfig(st: StageState): ContainerConfig {
    const c = structuredClone(st.state.config.config ?? {});
    if (st.dropOnBuild) delete c.OnBuild;
    return c;
  }

  private async advance(
    st: StageState,
    key: string,
    rep: StepReporter,
    change: Parameters<typeof childState>[2],
    author?: string,
  ): Promise<void> {
    const parent: ImageState = author === undefined ? st.state : withAuthor(st.state, author);
    if (change.layer) this.hold(change.layer.digest);
    const next = await childState(this.deps.images, parent, change, this.created, this.lease);
    if (next.target) this.deps.cache.put(key, next.target.digest);
    st.state = next;
    rep.done(next.id);
  }

  private async configStep(st: StageState, ev: Evaluated, rep: StepReporter): Promise<void> {
    const key = this.keyOf(st, ev);
    if (await this.fromCache(st, key, rep)) return;
    const shell = this.shellOf(st);
    const config = configAfter(this.baseConfig(st), ev, {
      shell,
      cmdSet: st.cmdSet,
      envNow: st.scope.configEnv(),
    });
    const e = ev.instruction;
    await this.advance(
      st,
      key,
      rep,
      { config, history: { created_by: historyText(ev, shell) } },
      e.kind === "MAINTAINER" ? e.maintainer : undefined,
    );
  }

  private async workdirStep(st: StageState, ev: Evaluated, rep: StepReporter): Promise<void> {
    const e = ev.instruction;
    if (e.kind !== "WORKDIR") return;
    const wd = resolveWorkdir(st.state.config.config?.WorkingDir || "/", e.path);
    const resolved: Evaluated = { ...ev, instruction: { ...e, path: wd } };
    const key = this.keyOf(st, resolved);
    if (await this.fromCache(st, key, rep)) return;
    const shell = this.shellOf(st);
    const config = configAfter(this.baseConfig(st), resolved, {
      shell,
      cmdSet: st.cmdSet,
      envNow: st.scope.configEnv(),
      workdir: wd,
    });
    const history = { created_by: historyText(resolved, shell) };
    // The directory is made (a layer) only when the image does not have it.
    let layer;
    if (wd !== "/") {
      const fs = await this.deps.workspace.mount(st.state, { writable: true });
      try {
        const made = await makeDirs(fs.dir, wd, config.User ?? "");
        if (made) layer = await fs.commit(this.opts.sourceDateEpoch);
      } finally {
        await fs.release();
      }
    }
    await this.advance(st, key, rep, layer ? { config, history, layer } : { config, history });
  }

  private async copyStep(
    st: StageState,
    ev: Evaluated<CopyInstruction | AddInstruction>,
    rep: StepReporter,
  ): Promise<void> {
    const e = ev.instruction;
    const from =
      e.kind === "COPY" && e.from !== undefined ? await this.sourceTree(e.from, rep) : this.opts.context;
    const base: CopyPlanOptions = {
      instruction: e.kind,
      from,
      sources: e.sources,
      inline: e.inline,
      dest: e.dest,
      workdir: st.state.config.config?.WorkingDir || "/",
      excludes: e.excludes,
    };
    if (e.chmod !== undefined) base.chmod = e.chmod;
    if (e.kind === "COPY") base.parents = e.parents;
    if (e.kind === "ADD") {
      if (e.unpack !== undefined) base.unpack = e.unpack;
      if (e.checksum !== undefined) base.checksum = e.checksum;
    }
    // ADD's URLs are downloaded first; they are planned from the download directory.
    const urls = e.kind === "ADD" ? await this.downloads(e) : undefined;
    const plan = (extra: Partial<CopyPlanOptions>) => planWithUrls({ ...base, ...extra }, urls);
    // The key needs the content, not the image: plan without the target root (names in
    // --chown resolve against it later; the chown text is part of the instruction).
    const key = this.keyOf(st, ev, await copyChecksum(await plan({})));
    if (await this.fromCache(st, key, rep)) return;
    const fs = await this.deps.workspace.mount(st.state, { writable: true });
    let layer;
    try {
      const real = await plan({ target: fs.dir, ...(e.chown !== undefined ? { chown: e.chown } : {}) });
      await applyCopy(real, fs.dir, this.deps.dir);
      layer = await fs.commit(this.opts.sourceDateEpoch);
    } finally {
      await fs.release();
    }
    const shell = this.shellOf(st);
    await this.advance(st, key, rep, {
      config: this.baseConfig(st),
      history: { created_by: historyText(ev, shell) },
      layer,
    });
  }

  /** ADD's http(s) sources, downloaded; --checksum verified. */
  private async downloads(e: AddInstruction): Promise<UrlSources | undefined> {
    const remote = e.sources.filter(isUrl);
    if (remote.length === 0 || remote.some((u) => /\.git(#.*)?$/.test(u))) return undefined;
    const files: Fetched[] = [];
    for (const u of remote) files.push(await fetchUrl(u, this.deps.dir, this.deps.signal));
    if (e.checksum !== undefined && e.checksum !== "") {
      if (e.sources.length !== 1)
        throw new PierError(
          "InvalidArgument",
          "ADD failed: checksum can't be specified for multiple sources",
        );
      if (files[0]?.digest !== e.checksum)
        throw new PierError(
          "InvalidArgument",
          `ADD failed: checksum of ${remote[0]} is ${files[0]?.digest}, not ${e.checksum}`,
          {
            hint: "the file at the URL changed, or the checksum is wrong",
          },
        );
    }
    return { urls: remote, files };
  }

  /** COPY --from: an earlier stage's root file system, or an image's (read-only views). */
  private async sourceTree(from: string, rep: StepReporter): Promise<SourceTree> {
    let state: ImageState | undefined;
    let name = from;
    const byIndex = /^\d+$/.test(from) ? this.df.stages[Number(from)] : undefined;
    const stage = byIndex ?? this.df.stages.find((s) => s.name === from.toLowerCase());
    if (stage) {
      state = this.done.get(stage.index)?.state;
      name = `stage ${stage.name ?? stage.index}`;
      if (!state) throw new PierError("Internal", `stage ${from} was not built`);
    } else {
      state = stateOfImage(await this.image(from, rep));
      name = `image ${from}`;
    }
    // One read-only view per image state, for every COPY --from that names it.
    const known = this.trees.get(state.id);
    if (known) return known;
    const view = await this.deps.workspace.mount(state, { writable: false });
    this.views.push(view);
    const tree = new DirTree(view.dir, name);
    this.trees.set(state.id, tree);
    return tree;
  }

  private async runStep(st: StageState, ev: Evaluated<RunInstruction>, rep: StepReporter): Promise<void> {
    const e = ev.instruction;
    if (ev.mounts && ev.mounts.length > 0) {
      throw new PierError("NotImplemented", "RUN --mount is not implemented yet", {
        hint: "copy what the command needs with COPY, or fetch it in the command",
      });
    }
    if (e.security === "insecure")
      throw new PierError("NotImplemented", "RUN --security=insecure is not implemented");
    const shell = this.shellOf(st);
    const key = this.keyOf(st, ev);
    if (await this.fromCache(st, key, rep)) return;
    if (st.state.id === "scratch" || !st.state.target) {
      throw new PierError(
        "InvalidArgument",
        "RUN on an empty image (FROM scratch): there is no program to run",
        {
          hint: "COPY a program in first, or start FROM an image with a shell",
        },
      );
    }
    const cmd = runCommand(e, shell);
    const files: { hostPath: string; path: string }[] = [];
    for (const [i, f] of cmd.files.entries()) {
      const hostPath = join(this.deps.dir, `run-${this.step}-${i}`);
      await mkdir(this.deps.dir, { recursive: true });
      await writeFile(hostPath, f.content, { mode: f.mode });
      files.push({ hostPath, path: f.path });
    }
    const config = st.state.config.config ?? {};
    const network = e.network === undefined || e.network === "default" ? this.opts.network : e.network;
    const tail: string[] = [];
    let partial = "";
    const keep = (s: string) => {
      const lines = (partial + s).split("\n");
      partial = lines.pop() ?? "";
      tail.push(...lines);
      if (tail.length > OUTPUT_TAIL) tail.splice(0, tail.length - OUTPUT_TAIL);
    };
    const parentChain = chainIDs(st.state.config.rootfs.diff_ids).at(-1);
    await this.deps.holds.acquire(st.state);
    let layer;
    try {
      const c = await this.deps.runner.create({
        image: st.state.id,
        argv: cmd.argv,
        env: st.scope.runEnv(),
        workdir: config.WorkingDir || "/",
        user: config.User ?? "",
        network,
        files,
        labels: { [BUILD_LABEL]: this.deps.buildId },
      });
      rep.running(c.id);
      try {
        const code = await this.deps.runner.run(
          c,
          (chunk) => {
            rep.output(chunk);
            keep(chunk.data.toString("utf8"));
          },
          this.deps.signal,
        );
        if (code !== 0) {
          if (partial) tail.push(partial);
          const shown = this.deps.reporter.showsOutput || tail.length === 0;
          const argv = cmd.argv.join(" ");
          throw new RunFailed(
            `${where(e.loc)}: RUN ${displayText(e).replace(/^RUN\s+/i, "")}: the command '${argv}' returned a non-zero code: ${code}` +
              (shown ? "" : `\n--- its last output ---\n${tail.join("\n")}`),
            code,
            "the command's output above says why it failed",
          );
        }
        layer = await diffSnapshot(this.deps.images, c.snapshotKey, parentChain, this.opts.sourceDateEpoch);
      } finally {
        await this.deps.runner.remove(c);
        rep.removed(c.id);
      }
    } finally {
      await this.deps.holds.release(st.state);
    }
    await this.advance(st, key, rep, {
      config: this.baseConfig(st),
      history: { created_by: historyText(ev, shell) },
      layer,
    });
  }
}

interface UrlSources {
  urls: string[];
  files: Fetched[];
}

/**
 * planCopy over the build context (or --from tree) and, for ADD's URLs, over
 * their download directories; the entries of both in source order.
 */
async function planWithUrls(opts: CopyPlanOptions, urls: UrlSources | undefined): Promise<CopyPlan> {
  if (!urls) return planCopy(opts);
  const local = opts.sources.filter((s) => !urls.urls.includes(s));
  const count = local.length + urls.files.length + (opts.inline?.length ?? 0);
  const dirDest = /(^|\/)\.{0,2}$/.test(opts.dest);
  const plans: CopyPlan[] = [];
  if (local.length > 0 || (opts.inline?.length ?? 0) > 0) {
    const { checksum: _c, ...rest } = opts;
    plans.push(await planCopy({ ...rest, sources: local }));
  }
  for (const f of urls.files) {
    const { checksum: _c, ...rest } = opts;
    plans.push(
      await planCopy({
        ...rest,
        from: new DirTree(f.dir, "download"),
        sources: [f.name],
        inline: [],
        unpack: false,
      }),
    );
  }
  if (count > 1 && !dirDest && !plans.every((p) => p.destIsDir)) {
    throw new PierError(
      "InvalidArgument",
      "ADD failed: When using ADD with more than one source file, the destination must be a directory and end with a /",
      { hint: `write the destination as ${opts.dest}/` },
    );
  }
  const first = plans[0] as CopyPlan;
  const seen = new Set<string>();
  const entries = plans
    .flatMap((p) => p.entries)
    .filter((x) => {
      // Directories several plans imply are created once.
      if (x.type !== "dir" || !x.implied) return true;
      if (seen.has(x.dest)) return false;
      seen.add(x.dest);
      return true;
    });
  return { dest: first.dest, destIsDir: first.destIsDir, entries };
}

/** One instruction from text that is not in the Dockerfile (an ONBUILD trigger, --label). */
function parseTrigger(text: string, file: string, line: number): Instruction {
  let df: Dockerfile;
  try {
    df = parseDockerfile(`FROM scratch\n${text}\n`, { file });
  } catch (err) {
    throw syntaxError(
      { file, startLine: line, endLine: line },
      `bad trigger ${JSON.stringify(text)}: ${errText(err)}`,
    );
  }
  const ins = df.stages[0]?.instructions[0];
  if (!ins)
    throw syntaxError({ file, startLine: line, endLine: line }, `empty trigger ${JSON.stringify(text)}`);
  if (ins.kind === "ONBUILD" || ins.kind === "FROM" || ins.kind === "MAINTAINER") {
    throw syntaxError(
      { file, startLine: line, endLine: line },
      `${ins.kind} is not allowed as an ONBUILD trigger`,
    );
  }
  return { ...ins, loc: { file, startLine: line, endLine: line } };
}

/** Makes `path` (and missing parents) in the root at `root`; true when anything was made. */
async function makeDirs(root: string, path: string, user: string): Promise<boolean> {
  const tree = new DirTree(root);
  const r = await resolveInTree(tree, path, true);
  if (r.found) {
    if (r.stat.isDirectory()) return false;
    throw new PierError("InvalidArgument", `WORKDIR ${path}: it is a file in the image`);
  }
  let owner = { uid: 0, gid: 0 };
  if (user !== "") owner = await resolveChown(user, root).catch(() => owner);
  const parts = path.split("/").filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const p = "/" + parts.slice(0, i).join("/");
    const at = await resolveInTree(tree, p, true);
    if (at.found) continue;
    const parent = await resolveInTree(tree, posix.dirname(p), true);
    if (!parent.found || !parent.stat.isDirectory())
      throw new PierError("InvalidArgument", `WORKDIR ${path}: ${posix.dirname(p)} is not a directory`);
    const full = join(root, parent.path, posix.basename(p));
    mkdirSync(full, { mode: 0o755 });
    chownSync(full, owner.uid, owner.gid);
  }
  return true;
}

function withAuthor(s: ImageState, author: string): ImageState {
  const config: ConfigJSON = { ...s.config, author };
  return { ...s, config };
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
