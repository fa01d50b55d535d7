/**
 * The builder pierd runs: Dockerfile + context → a named image. One object per
 * daemon; each build gets its own directory `<dir>/<build id>/` (the context,
 * mount points, scratch files), removed when the build ends, whatever happens.
 *
 *   const b = await Builder.open({ images, runner: new EngineRunner(engine), dir: "/var/lib/pier/build" });
 *   const dir = await b.receiveContext(req);           // a tar (plain, gzip or zstd)
 *   const r = await b.build({ contextDir: dir, dockerfile: "Dockerfile", tags: ["hello"] }, reporter);
 *   r.id  // sha256:…
 *
 * Nothing half-built is named: tags are set only after the last step. A
 * build without tags leaves its image dangling (`<none>`), as docker does.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile } from "node:fs/promises";
import { join, posix } from "node:path";
import { PierError, wrap } from "../../common/errors.ts";
import { unpackLayer } from "../../image/layer/unpack.ts";
import { formatReference, parseReference } from "../../image/service/reference.ts";
import type { ImageService } from "../../image/service/service.ts";
import { BuildContext, DirTree } from "../context.ts";
import { resolveInTree } from "../copy/resolve.ts";
import { IgnoreMatcher } from "../dockerignore.ts";
import { parseDockerfile } from "../dockerfile/parse.ts";
import { planStages } from "../dockerfile/stages.ts";
import { BUILD_LEASE_PREFIX, BuildRun } from "./build-run.ts";
import { BuildCache } from "./cache.ts";
import { ImageHolds } from "./holds.ts";
import type { Reporter } from "./output.ts";
import { sweepBuild, Workspace } from "./rootfs.ts";
import type { ContainerRunner } from "./runner.ts";
import { shortId, type ImageState } from "./state.ts";

export interface BuilderOptions {
  images: ImageService;
  runner: ContainerRunner;
  /** The builder's directory (e.g. <pierd root>/build). */
  dir: string;
  /** Fetches an image from its registry (pierd: the image backend's pull). */
  pull?: (ref: string, reporter: Reporter) => Promise<void>;
}

export interface BuildRequest {
  /** The build's directory from receiveContext (its `context/` is the build context). */
  buildDir: string;
  /** The Dockerfile's path in the context (default "Dockerfile"). */
  dockerfile?: string;
  tags?: string[];
  buildArgs?: Record<string, string>;
  labels?: Record<string, string>;
  target?: string;
  noCache?: boolean;
  pull?: boolean;
  /** Network of RUN steps (default "bridge"). */
  network?: string;
  /** Only linux/amd64 is built. */
  platform?: string;
}

export interface BuildResult {
  /** The image ID. */
  id: string;
  /** The names given to it (normalized). */
  names: string[];
}

export class Builder {
  readonly cache: BuildCache;
  private readonly holds: ImageHolds;

  private constructor(private readonly opts: BuilderOptions) {
    this.cache = new BuildCache(opts.images);
    this.holds = new ImageHolds(opts.images);
  }

  /** Opens the builder and removes what crashed builds left behind. */
  static async open(opts: BuilderOptions): Promise<Builder> {
    await mkdir(opts.dir, { recursive: true, mode: 0o700 });
    await opts.runner.sweep?.();
    for (const name of await readdir(opts.dir)) await sweepBuild(opts.images, join(opts.dir, name), name);
    await sweepBuild(opts.images, join(opts.dir, ".none"));
    // Leases of builds that never ended (their blobs go to the next garbage collection).
    const meta = opts.images.meta;
    const leases = meta.db
      .prepare<{ source: string }>("SELECT DISTINCT source FROM refs WHERE source LIKE ?")
      .all(`${BUILD_LEASE_PREFIX}%`);
    meta.transaction(() => {
      for (const l of leases) meta.removeRefs(l.source);
    });
    return new Builder(opts);
  }

  /** A new build directory holding the context from `tar` (plain, gzip or zstd). */
  async receiveContext(tar: AsyncIterable<Buffer>): Promise<string> {
    const id = randomBytes(6).toString("hex");
    const dir = join(this.opts.dir, id);
    const context = join(dir, "context");
    await mkdir(context, { recursive: true });
    try {
      await unpackLayer(tar, context, { whiteouts: "apply", sameOwner: false, allowDevices: false });
    } catch (err) {
      await sweepBuild(this.opts.images, dir, id);
      throw wrap(err, "read the build context");
    }
    return dir;
  }

  /** Removes a build directory (and anything of that build still mounted or prepared). */
  async discard(buildDir: string): Promise<void> {
    await sweepBuild(this.opts.images, buildDir, posix.basename(buildDir));
  }

  async build(req: BuildRequest, reporter: Reporter, signal?: AbortSignal): Promise<BuildResult> {
    const { images } = this.opts;
    const buildId = posix.basename(req.buildDir);
    const names = (req.tags ?? []).map((t) => {
      try {
        return formatReference(parseReference(t));
      } catch (err) {
        throw new PierError("InvalidArgument", `invalid tag ${JSON.stringify(t)}: ${errText(err)}`, {
          hint: "write tags as name[:tag], e.g. hello:1.0",
        });
      }
    });
    if (req.platform && req.platform !== "linux/amd64" && req.platform !== "linux")
      throw new PierError("NotImplemented", `--platform ${req.platform}: only linux/amd64 images are built`);
    const contextDir = join(req.buildDir, "context");
    const file = cleanDockerfilePath(req.dockerfile ?? "Dockerfile");
    const text = await readDockerfile(contextDir, file);
    const df = parseDockerfile(text, { file });
    for (const w of df.warnings) reporter.line(`[Warning] ${w.loc.file}:${w.loc.startLine}: ${w.message}`);
    const buildArgs = req.buildArgs ?? {};
    const plan = planStages(df, { ...(req.target ? { target: req.target } : {}), buildArgs });
    if (plan.unusedBuildArgs.length > 0)
      reporter.line(`[Warning] One or more build-args [${plan.unusedBuildArgs.join(" ")}] were not consumed`);
    const context = await BuildContext.open(contextDir, { ignore: await ignoreRules(contextDir, file) });
    const run = new BuildRun(
      {
        images,
        runner: this.opts.runner,
        cache: this.cache,
        holds: this.holds,
        workspace: new Workspace(images, req.buildDir, buildId),
        reporter,
        ...(this.opts.pull ? { pull: (ref: string) => this.opts.pull!(ref, reporter) } : {}),
        dir: join(req.buildDir, "scratch"),
        buildId,
        ...(signal ? { signal } : {}),
      },
      df,
      plan,
      {
        context,
        noCache: req.noCache === true,
        pull: req.pull === true,
        network: req.network && req.network !== "default" ? req.network : "bridge",
        sourceDateEpoch: sourceDateEpoch(buildArgs),
        labels: req.labels ?? {},
      },
    );
    await mkdir(join(req.buildDir, "scratch"), { recursive: true });
    try {
      return await this.finish(await run.run(), names, reporter);
    } finally {
      images.meta.transaction(() => images.meta.removeRefs(run.lease));
    }
  }

  private async finish(final: ImageState, names: string[], reporter: Reporter): Promise<BuildResult> {
    const { images } = this.opts;
    if (final.id === "scratch" || !final.target)
      throw new PierError("InvalidArgument", "No image was generated. Is your Dockerfile empty?", {
        hint: "a stage FROM scratch needs at least one instruction",
      });
    // Named only now that every step worked.
    for (const n of names) await images.putImage(n, final.target);
    if (names.length === 0 && !images.meta.listImages().some((r) => r.configDigest === final.id))
      await images.putImage(undefined, final.target);
    reporter.finished(final.id, names);
    return { id: final.id, names };
  }
}

function sourceDateEpoch(args: Record<string, string>): number {
  const v = args.SOURCE_DATE_EPOCH;
  if (v === undefined || v === "") return 0;
  if (!/^\d+$/.test(v))
    throw new PierError("InvalidArgument", `SOURCE_DATE_EPOCH=${v}: not a number of seconds`, {
      hint: "e.g. --build-arg SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)",
    });
  return Number(v);
}

function cleanDockerfilePath(p: string): string {
  const clean = posix.normalize(p.replace(/^\/+/, ""));
  if (clean === ".." || clean.startsWith("../"))
    throw new PierError("InvalidArgument", `the Dockerfile (${p}) must be within the build context`);
  return clean;
}

/**
 * A regular file of the context, its path resolved inside the context (a
 * symlink in a context someone sent never leads to a file of this machine).
 */
async function readInContext(contextDir: string, rel: string): Promise<Buffer | undefined> {
  const r = await resolveInTree(new DirTree(contextDir), rel, true);
  if (!r.found || !r.stat.isFile()) return undefined;
  return readFile(join(contextDir, r.path));
}

async function readDockerfile(contextDir: string, file: string): Promise<string> {
  // docker also accepts a lower-case `dockerfile` when the default name is missing.
  const data =
    (await readInContext(contextDir, file)) ??
    (file === "Dockerfile" ? await readInContext(contextDir, "dockerfile") : undefined);
  if (data === undefined) {
    throw new PierError("NotFound", `Cannot locate specified Dockerfile: ${file}`, {
      hint: "name it with -f, relative to the build context",
    });
  }
  return data.toString("utf8");
}

/** `<Dockerfile>.dockerignore` when there is one (BuildKit's rule), else `.dockerignore`. */
async function ignoreRules(contextDir: string, file: string): Promise<IgnoreMatcher> {
  for (const name of [`${file}.dockerignore`, ".dockerignore"]) {
    const data = await readInContext(contextDir, name);
    if (data !== undefined) return IgnoreMatcher.fromFile(data, name);
  }
  return IgnoreMatcher.none;
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export { shortId };
