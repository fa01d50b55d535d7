/**
 * The pieces together, as the executor will use them: parse, choose stages,
 * expand each instruction, plan COPY against a context, key the cache — with
 * a chain of keys standing in for the layers (each key is the next parent).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import assert from "node:assert/strict";
import {
  BuildContext,
  cacheKey,
  copyChecksum,
  instructionText,
  parseDockerfile,
  planCopy,
  planStages,
  resolveWorkdir,
  runCommand,
  StageScope,
  type ScopeOptions,
} from "./index.ts";

const scratch = mkdtempSync(join(tmpdir(), "pier-build-flow-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

const DOCKERFILE = `# syntax=docker/dockerfile:1
ARG BASE=debian:bookworm
FROM \${BASE} AS build
ARG VERSION=dev
WORKDIR /src
COPY go.mod main.go ./
RUN go build -ldflags "-X main.version=$VERSION" -o /out/app .

FROM \${BASE}
COPY --from=build /out/app /usr/local/bin/app
COPY <<EOF /etc/app.conf
listen 8080
EOF
CMD ["app"]
`;

/** Runs the front half over every needed stage and returns one cache key per instruction. */
async function keys(ctxDir: string, opts: ScopeOptions = {}): Promise<string[]> {
  const df = parseDockerfile(DOCKERFILE);
  const plan = planStages(df, opts);
  const context = await BuildContext.open(ctxDir);
  const out: string[] = [];
  for (const i of plan.order) {
    const p = plan.stages[i];
    assert.ok(p);
    let parent = p.base.kind === "image" ? `image:${p.base.ref}` : "scratch";
    let workdir = "/";
    const scope = StageScope.fromImage(plan.globals, ["PATH=/usr/local/bin:/usr/bin:/bin"]);
    for (const ins of p.stage.instructions) {
      const ev = scope.expand(ins);
      let content: string | undefined;
      const e = ev.instruction;
      if (e.kind === "WORKDIR") workdir = resolveWorkdir(workdir, e.path);
      if (e.kind === "COPY") {
        // A stage's filesystem would be its rootfs; here the context stands in for it.
        const cp = await planCopy({
          instruction: "COPY",
          from: context,
          sources: e.from ? ["main.go"] : e.sources,
          inline: e.inline,
          dest: e.dest,
          workdir,
        });
        content = await copyChecksum(cp);
      }
      if (e.kind === "RUN") assert.equal(runCommand(e).argv[0], "/bin/sh");
      const input = { parent, instruction: instructionText(ev), buildArgs: ev.usedArgs };
      parent = cacheKey(content === undefined ? input : { ...input, contentChecksum: content });
      out.push(parent);
    }
  }
  return out;
}

test("the same build twice gives the same keys; a file edit or a --build-arg changes only what depends on it", async () => {
  const ctx = join(scratch, "ctx");
  mkdirSync(ctx);
  writeFileSync(join(ctx, "go.mod"), "module app\n");
  writeFileSync(join(ctx, "main.go"), "package main\n");
  writeFileSync(join(ctx, "README.md"), "readme\n");

  const first = await keys(ctx);
  assert.equal(first.length, 7, "4 instructions in build, 3 in the final stage");
  assert.deepEqual(await keys(ctx), first);

  writeFileSync(join(ctx, "README.md"), "not copied\n");
  assert.deepEqual(await keys(ctx), first, "a file no COPY selects changes nothing");

  const versioned = await keys(ctx, { buildArgs: { VERSION: "1.0" } });
  assert.notEqual(versioned[0], first[0], "ARG VERSION has another value");
  assert.notEqual(versioned[3], first[3], "the RUN depends on VERSION");
  assert.deepEqual(
    versioned.slice(4),
    first.slice(4),
    "the final stage's own chain is unchanged (it starts from the image)",
  );

  writeFileSync(join(ctx, "go.mod"), "module app2\n");
  const edited = await keys(ctx);
  assert.deepEqual(edited.slice(0, 2), first.slice(0, 2), "before the COPY nothing changes");
  assert.notEqual(edited[2], first[2], "the COPY of the edited file");
  assert.notEqual(edited[3], first[3], "and everything after it in the stage");
});
