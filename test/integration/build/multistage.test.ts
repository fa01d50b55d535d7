// Multi-stage builds through pierd: the final image holds only the artefact copied from the
// build stage (one layer, one file), stages the target does not need are not built,
// --target stops at a stage, COPY --from takes a stage by name or index or an image, and
// build args, WORKDIR, USER, ONBUILD and --label reach the image as docker has them.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { PIER, PierdRun } from "../../helpers/pierd.ts";

const MULTI = `ARG GREETING=hello
FROM busybox AS build
ARG GREETING
WORKDIR /src
COPY greet.sh .
RUN mkdir -p /out && cp /bin/busybox /out/busybox && \\
    sed "s/@GREETING@/$GREETING/" greet.sh > /out/greet.sh && chmod 755 /out/greet.sh

FROM busybox AS unused
RUN echo "this stage is not needed" && exit 1

FROM scratch AS final
COPY --from=build /out/busybox /busybox
ENTRYPOINT ["/busybox"]
CMD ["echo", "only the artefact"]

FROM final AS script
COPY --from=0 /out/greet.sh /greet.sh
CMD ["sh", "/greet.sh"]
`;

type Run = { status: number | null; stdout: string; stderr: string };
const ok = (r: Run, what: string) => assert.equal(r.status, 0, `${what}: ${r.stderr}${r.stdout}`);

describe("pier build: multi-stage", () => {
  let d: PierdRun;
  let ctx: string;
  const pier = (...args: string[]): Run =>
    spawnSync(PIER, ["-H", `unix://${d.sock}`, ...args], { env: d.env, encoding: "utf8", timeout: 120_000 });
  /** A container's output, read from its log once it exited (never raced by an attach). */
  const output = (...args: string[]): Run => {
    const c = pier("run", "-d", "--network", "none", ...args);
    if (c.status !== 0) return c;
    const id = c.stdout.trim();
    const w = pier("wait", id);
    const logs = pier("logs", id);
    pier("rm", "-f", id);
    return { status: Number(w.stdout.trim()), stdout: logs.stdout, stderr: logs.stderr };
  };

  before(async () => {
    d = await PierdRun.start();
    ctx = join(d.dir, "multi");
    mkdirSync(ctx, { recursive: true });
    writeFileSync(join(ctx, "Dockerfile"), MULTI);
    writeFileSync(join(ctx, "greet.sh"), 'echo "@GREETING@ from the build stage"\n');
  });
  after(async () => {
    await d?.teardown();
  });

  test("the final image holds only the artefact; unneeded stages are not built", () => {
    const r = pier("build", "--target", "final", "-t", "artefact", ctx);
    ok(r, "build --target final");
    assert.doesNotMatch(r.stdout, /this stage is not needed/);
    // Stages build, unused and script are skipped: 1+4 steps of build, 1+3 of final.
    assert.match(r.stdout, /^Step 9\/9 : CMD \["echo", "only the artefact"\]$/m);
    const layers = JSON.parse(
      d.docker("inspect", "-f", "{{json .RootFS.Layers}}", "artefact").stdout,
    ) as string[];
    assert.equal(layers.length, 1, "one layer: the COPY");
    // What the layer holds: one file, the artefact.
    const tar = join(d.dir, "artefact.tar");
    ok(d.docker("save", "-o", tar, "artefact"), "save");
    const files = spawnSync("sh", ["-c", `tar -xOf ${tar} --wildcards '*/layer.tar' | tar -tf -`], {
      encoding: "utf8",
    });
    assert.deepEqual(files.stdout.trim().split("\n"), ["busybox"], files.stderr);
    const run = output("artefact");
    ok(run, "run");
    assert.equal(run.stdout, "only the artefact\n");
    // The image's config is scratch's plus this stage's: no busybox history.
    const hist = pier("history", "--format", "{{.CreatedBy}}", "--no-trunc", "artefact");
    assert.deepEqual(hist.stdout.trim().split("\n"), [
      'CMD ["echo","only the artefact"]',
      'ENTRYPOINT ["/busybox"]',
      "COPY --from=build /out/busybox /busybox",
    ]);
  });

  test("the last stage by default; COPY --from by index; a global ARG through --build-arg", () => {
    const r = pier("build", "-t", "script", "--build-arg", "GREETING=howdy", ctx);
    ok(r, "build");
    assert.doesNotMatch(r.stdout, /this stage is not needed/);
    const run = output("--entrypoint", "/busybox", "script", "sh", "/greet.sh");
    ok(run, "run");
    assert.equal(run.stdout, "howdy from the build stage\n");
    // The final stage was taken from the cache (same content), the build stage was not.
    const again = pier("build", "-t", "script2", ctx);
    ok(again, "build with the default ARG");
    const hello = output("--entrypoint", "/busybox", "script2", "sh", "/greet.sh");
    assert.equal(hello.stdout, "hello from the build stage\n");
  });

  test("an unknown --target is an error that names the stages", () => {
    const r = pier("build", "--target", "nope", ctx);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /target stage "nope" could not be found/);
    assert.match(r.stderr, /build, unused, final, script/);
  });

  test("WORKDIR makes its directory, USER and --label reach the config, ONBUILD runs in the child", () => {
    const base = join(d.dir, "onbuild");
    mkdirSync(base, { recursive: true });
    writeFileSync(
      join(base, "Dockerfile"),
      'FROM busybox\nWORKDIR /app/data\nUSER nobody\nONBUILD RUN echo "trigger ran" > /tmp/trigger\nLABEL stage=base\n',
    );
    ok(pier("build", "-t", "onbase", "--label", "built-by=pier", base), "build base");
    const cfg = JSON.parse(d.docker("inspect", "-f", "{{json .Config}}", "onbase").stdout) as {
      WorkingDir: string;
      User: string;
      Labels: Record<string, string>;
      OnBuild: string[];
    };
    assert.equal(cfg.WorkingDir, "/app/data");
    assert.equal(cfg.User, "nobody");
    assert.deepEqual(cfg.Labels, { stage: "base", "built-by": "pier" });
    assert.deepEqual(cfg.OnBuild, ['RUN echo "trigger ran" > /tmp/trigger']);
    const ls = output("onbase", "sh", "-c", "pwd; ls -ld /app/data | cut -c1-10");
    assert.equal(ls.stdout, "/app/data\ndrwxr-xr-x\n");

    const child = join(d.dir, "child");
    mkdirSync(child, { recursive: true });
    writeFileSync(join(child, "Dockerfile"), 'FROM onbase\nCMD ["cat", "/tmp/trigger"]\n');
    const r = pier("build", "-t", "onchild", child);
    ok(r, "build child");
    assert.match(r.stdout, /Executing 1 build trigger/);
    assert.equal(output("onchild").stdout, "trigger ran\n");
    const childCfg = JSON.parse(
      d.docker("inspect", "-f", "{{json .Config.OnBuild}}", "onchild").stdout,
    ) as unknown;
    assert.ok(
      childCfg === null || (Array.isArray(childCfg) && childCfg.length === 0),
      "triggers are not inherited",
    );
  });

  test("COPY --from an image, --chown and --chmod, here-documents, ADD of a local tar", () => {
    const dir = join(d.dir, "copies");
    mkdirSync(join(dir, "tree/sub"), { recursive: true });
    writeFileSync(join(dir, "tree/sub/f.txt"), "in a tarball\n");
    ok(
      spawnSync("tar", ["-C", join(dir, "tree"), "-czf", join(dir, "tree.tgz"), "."], { encoding: "utf8" }),
      "tar",
    );
    writeFileSync(
      join(dir, "Dockerfile"),
      [
        "FROM busybox",
        "COPY --from=busybox /bin/busybox /copied-busybox",
        "COPY --chown=nobody:nogroup --chmod=600 <<EOF /etc/secret",
        "only for nobody",
        "EOF",
        "ADD tree.tgz /unpacked/",
        'RUN <<EOF\nset -e\nstat -c "%U %G %a" /etc/secret\ncat /unpacked/sub/f.txt\ncmp /bin/busybox /copied-busybox && echo same\nEOF',
        "",
      ].join("\n"),
    );
    const r = pier("build", "--network", "none", "-t", "copies", dir);
    ok(r, "build");
    assert.match(r.stdout, /^nobody nogroup 600$/m);
    assert.match(r.stdout, /^in a tarball$/m);
    assert.match(r.stdout, /^same$/m);
  });
});
