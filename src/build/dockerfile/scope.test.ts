/** ARG/ENV scoping and the expansion of each instruction. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { PierError } from "../../common/errors.ts";
import type { Instruction } from "./ast.ts";
import { instructionText } from "./normalize.ts";
import { parseDockerfile } from "./parse.ts";
import {
  GlobalScope,
  parseSignal,
  resolveWorkdir,
  StageScope,
  type Evaluated,
  type ScopeOptions,
} from "./scope.ts";

/** Parses, then evaluates every instruction of stage `n` on an image with `env`. */
function run(text: string, opts: ScopeOptions = {}, env: string[] = [], n = 0) {
  const df = parseDockerfile(text);
  const globals = GlobalScope.create(df, opts);
  const scope = StageScope.fromImage(globals, env);
  const stage = df.stages[n];
  assert.ok(stage);
  const evs: Evaluated[] = stage.instructions.map((i) => scope.expand(i));
  return { df, globals, scope, evs, from: globals.expandFrom(stage.from) };
}
const ins = <K extends Instruction["kind"]>(ev: Evaluated | undefined, kind: K) => {
  assert.equal(ev?.instruction.kind, kind);
  return ev?.instruction as Extract<Instruction, { kind: K }>;
};

test("global ARGs: defaults, chained defaults, --build-arg overrides, used in FROM", () => {
  const text = "ARG REG=docker.io\nARG IMG=${REG}/library/alpine\nARG TAG=3.19\nFROM ${IMG}:${TAG}\n";
  assert.equal(run(text).from.image, "docker.io/library/alpine:3.19");
  assert.equal(run(text, { buildArgs: { TAG: "edge" } }).from.image, "docker.io/library/alpine:edge");
  assert.equal(
    run(text, { buildArgs: { REG: "localhost:5000" } }).from.image,
    "localhost:5000/library/alpine:3.19",
  );
  assert.deepEqual(run(text).from.usedArgs, { IMG: "docker.io/library/alpine", TAG: "3.19" });
  const blank = () => run("ARG BASE\nFROM ${BASE}\n");
  assert.throws(
    blank,
    (e: unknown) =>
      e instanceof PierError && /^Dockerfile:2: base name \(\$\{BASE\}\) should not be blank/.test(e.message),
  );
});

test("global ARGs are not visible in a stage until redeclared; a redeclaration takes the global value", () => {
  const text = [
    "ARG VERSION=1.0",
    "FROM busybox",
    "RUN echo $VERSION",
    "LABEL before=${VERSION:-unset}",
    "ARG VERSION",
    "LABEL after=$VERSION",
    "ARG OWN=own VERSION=local",
    "LABEL own=$OWN version=$VERSION",
  ].join("\n");
  const { evs } = run(text);
  assert.deepEqual(
    ins(evs[0], "RUN").command,
    { form: "shell", text: "echo $VERSION" },
    "RUN is not expanded",
  );
  assert.deepEqual(evs[0]?.usedArgs, {}, "nothing declared yet");
  assert.deepEqual(ins(evs[1], "LABEL").pairs, [{ key: "before", value: "unset" }]);
  assert.deepEqual(ins(evs[3], "LABEL").pairs, [{ key: "after", value: "1.0" }]);
  assert.deepEqual(ins(evs[5], "LABEL").pairs, [
    { key: "own", value: "own" },
    { key: "version", value: "local" },
  ]);
  const overridden = run(text, { buildArgs: { VERSION: "2.0" } }).evs;
  assert.deepEqual(ins(overridden[3], "LABEL").pairs, [{ key: "after", value: "2.0" }]);
  assert.deepEqual(
    ins(overridden[5], "LABEL").pairs[1],
    { key: "version", value: "2.0" },
    "--build-arg beats defaults",
  );
});

test("ARG defaults expand with what is in scope; declared-but-unset ARGs expand to nothing", () => {
  const { evs, scope } = run(
    "FROM x\nENV HOME=/root\nARG CACHE=$HOME/.cache NOVAL\nWORKDIR ${CACHE}/${NOVAL:-none}\n",
    {},
    ["PATH=/bin"],
  );
  assert.deepEqual(ins(evs[1], "ARG").args, [{ name: "CACHE", default: "/root/.cache" }, { name: "NOVAL" }]);
  assert.equal(ins(evs[2], "WORKDIR").path, "/root/.cache/none");
  assert.deepEqual(scope.declaredArgs(), { CACHE: "/root/.cache" });
  assert.deepEqual(scope.declaredArgNames(), ["CACHE", "NOVAL"]);
});

test("ENV: one line is expanded as a whole before it applies (the documented abc/def/ghi example)", () => {
  const { evs, scope } = run("FROM x\nENV abc=hello\nENV abc=bye def=$abc\nENV ghi=$abc\n");
  assert.deepEqual(ins(evs[1], "ENV").pairs, [
    { key: "abc", value: "bye" },
    { key: "def", value: "hello" },
  ]);
  assert.deepEqual(ins(evs[2], "ENV").pairs, [{ key: "ghi", value: "bye" }]);
  assert.deepEqual(scope.configEnv(), ["abc=bye", "def=hello", "ghi=bye"]);
});

test("ENV after ARG wins, even over --build-arg (the documented CONT_IMG_VER examples)", () => {
  const a = run("FROM ubuntu\nARG CONT_IMG_VER\nENV CONT_IMG_VER=v1.0.0\nRUN echo $CONT_IMG_VER\n", {
    buildArgs: { CONT_IMG_VER: "v2.0.1" },
  });
  assert.ok(a.scope.runEnv().includes("CONT_IMG_VER=v1.0.0"));
  assert.deepEqual(a.evs[2]?.usedArgs, { CONT_IMG_VER: "v1.0.0" });
  const text = "FROM ubuntu\nARG CONT_IMG_VER\nENV CONT_IMG_VER=${CONT_IMG_VER:-v1.0.0}\n";
  assert.deepEqual(ins(run(text).evs[1], "ENV").pairs[0]?.value, "v1.0.0");
  assert.deepEqual(
    ins(run(text, { buildArgs: { CONT_IMG_VER: "v2.0.1" } }).evs[1], "ENV").pairs[0]?.value,
    "v2.0.1",
  );
});

test("ARGs reach RUN's environment but not the image config; the base image env is there", () => {
  const { scope, evs } = run("FROM x\nARG A=1\nENV B=2\nRUN env\n", {}, ["PATH=/usr/bin", "EMPTY="]);
  assert.deepEqual(scope.configEnv(), ["PATH=/usr/bin", "EMPTY=", "B=2"]);
  assert.deepEqual(scope.runEnv(), ["PATH=/usr/bin", "EMPTY=", "A=1", "B=2"]);
  assert.deepEqual(evs[2]?.usedArgs, { A: "1" }, "RUN depends on every declared ARG");
  assert.equal(scope.lookup("EMPTY"), "");
  assert.equal(scope.lookup("NOPE"), undefined);
});

test("proxy ARGs reach RUN without being declared, and stay out of cache keys unless declared", () => {
  const opts = { buildArgs: { HTTP_PROXY: "http://proxy:3128", no_proxy: "localhost", OTHER: "x" } };
  const a = run("FROM x\nRUN apt-get update\n", opts);
  assert.deepEqual(a.scope.runEnv(), ["HTTP_PROXY=http://proxy:3128", "no_proxy=localhost"]);
  assert.deepEqual(a.evs[0]?.usedArgs, {});
  const b = run("FROM x\nARG HTTP_PROXY\nRUN apt-get update\n", opts);
  assert.deepEqual(b.evs[1]?.usedArgs, { HTTP_PROXY: "http://proxy:3128" });
  assert.deepEqual(b.scope.runEnv(), ["HTTP_PROXY=http://proxy:3128", "no_proxy=localhost"]);
});

test("platform ARGs: automatic in the global scope, redeclared in a stage", () => {
  const text =
    "FROM --platform=$BUILDPLATFORM golang AS build\nARG TARGETOS TARGETARCH\nRUN GOOS=$TARGETOS go build\nLABEL arch=$TARGETARCH\n";
  const { from, evs } = run(text, { targetPlatform: "linux/arm64/v8" });
  assert.equal(from.platform, "linux/amd64");
  assert.deepEqual(ins(evs[0], "ARG").args, [
    { name: "TARGETOS", default: "linux" },
    { name: "TARGETARCH", default: "arm64" },
  ]);
  assert.deepEqual(ins(evs[2], "LABEL").pairs, [{ key: "arch", value: "arm64" }]);
  assert.deepEqual(evs[1]?.usedArgs, { TARGETOS: "linux", TARGETARCH: "arm64" });
  const g = GlobalScope.create(parseDockerfile("FROM x AS last\n"));
  assert.equal(g.values.get("TARGETSTAGE"), "last");
  assert.equal(g.values.get("TARGETPLATFORM"), "linux/amd64");
});

test("COPY/ADD: sources, dest, --chown, --chmod expanded; here-document bodies unless quoted; --from never", () => {
  const text = [
    "FROM x",
    "ARG APP=web USER=app",
    "ENV DIR=/srv",
    "COPY --chown=${USER}:${USER} --chmod=${MODE:-644} ${APP}/*.js $DIR/${APP}/",
    "COPY <<EOF <<'RAW' $DIR/",
    'user "$USER" in \\$DIR',
    "EOF",
    "$USER",
    "RAW",
    "ADD --checksum=sha256:${SUM:-x} https://example.com/${APP}.tgz /",
  ].join("\n");
  const { evs } = run(text);
  const copy = ins(evs[2], "COPY");
  assert.deepEqual(
    [copy.chown, copy.chmod, copy.sources, copy.dest],
    ["app:app", "644", ["web/*.js"], "/srv/web/"],
  );
  assert.deepEqual(evs[2]?.usedArgs, { USER: "app", APP: "web" });
  const inline = ins(evs[3], "COPY").inline;
  assert.deepEqual(inline, [
    { name: "EOF", content: 'user "app" in $DIR\n', expand: true },
    { name: "RAW", content: "$USER\n", expand: false },
  ]);
  const add = ins(evs[4], "ADD");
  assert.deepEqual([add.checksum, add.sources], ["sha256:x", ["https://example.com/web.tgz"]]);
  assert.throws(
    () => run("FROM x\nARG S=build\nCOPY --from=$S /a /b\n"),
    (e: unknown) =>
      e instanceof PierError &&
      /^Dockerfile:3: variable expansion is not supported for --from/.test(e.message),
  );
});

test("WORKDIR, USER, VOLUME, STOPSIGNAL, EXPOSE (split into words and ports), LABEL", () => {
  const text = [
    "FROM x",
    "ARG PORTS='80 443/tcp' SIG=SIGQUIT U=nobody",
    "WORKDIR /app/${U}",
    "USER ${U}:${U}",
    'VOLUME ["/data/$U"]',
    "STOPSIGNAL $SIG",
    "EXPOSE $PORTS 8000-8001/udp",
    'LABEL "org.label"="$U says \\"hi\\""',
  ].join("\n");
  const { evs } = run(text);
  assert.equal(ins(evs[1], "WORKDIR").path, "/app/nobody");
  assert.equal(ins(evs[2], "USER").user, "nobody:nobody");
  assert.deepEqual(ins(evs[3], "VOLUME").paths, ["/data/nobody"]);
  assert.equal(ins(evs[4], "STOPSIGNAL").signal, "SIGQUIT");
  assert.deepEqual(ins(evs[5], "EXPOSE").ports, ["80", "443/tcp", "8000-8001/udp"]);
  assert.deepEqual(evs[5]?.ports, ["80/tcp", "443/tcp", "8000/udp", "8001/udp"]);
  assert.deepEqual(ins(evs[6], "LABEL").pairs, [{ key: "org.label", value: 'nobody says "hi"' }]);
  assert.throws(
    () => run("FROM x\nSTOPSIGNAL SIGNOPE\n"),
    (e: unknown) => e instanceof PierError && /^Dockerfile:2: Invalid signal: SIGNOPE/.test(e.message),
  );
  assert.throws(
    () => run("FROM x\nEXPOSE 80/http\n"),
    (e: unknown) => e instanceof PierError && /invalid proto: http/.test(e.message),
  );
});

test("RUN: the command is left to the shell, --mount values are expanded and parsed", () => {
  const { evs } = run(
    "FROM x\nARG C=/cache\nRUN --mount=type=cache,target=${C},id=go --mount=type=secret,id=tok make $C\n",
  );
  const r = evs[1];
  assert.deepEqual(ins(r, "RUN").command, { form: "shell", text: "make $C" });
  assert.deepEqual(r?.mounts, [
    { type: "cache", target: "/cache", id: "go", readonly: false },
    { type: "secret", id: "tok", readonly: true },
  ]);
  assert.throws(
    () => run("FROM x\nRUN --mount=type=nfs,target=/x make\n"),
    (e: unknown) => e instanceof PierError && /unsupported mount type "nfs"/.test(e.message),
  );
});

test("CMD, ENTRYPOINT, SHELL, HEALTHCHECK, ONBUILD are not expanded", () => {
  const { evs } = run('FROM x\nENV A=1\nCMD echo $A\nONBUILD RUN echo $A\nHEALTHCHECK CMD test "$A"\n');
  assert.deepEqual(ins(evs[1], "CMD").command, { form: "shell", text: "echo $A" });
  assert.equal(ins(evs[2], "ONBUILD").expression, "RUN echo $A");
});

test("expansion errors carry the file and line", () => {
  assert.throws(
    () => run("FROM x\nENV A=1\nWORKDIR ${A\n"),
    (e: unknown) =>
      e instanceof PierError &&
      e.kind === "InvalidArgument" &&
      e.message === `Dockerfile:3: failed to process "\${A": syntax error: missing '}'`,
  );
  assert.throws(
    () => run("FROM x\nARG REQUIRED\nUSER ${REQUIRED:?set it with --build-arg}\n"),
    (e: unknown) =>
      e instanceof PierError && /Dockerfile:3: .*REQUIRED: set it with --build-arg/.test(e.message),
  );
});

test("a stage FROM another stage inherits its variables and ARGs", () => {
  const df = parseDockerfile("FROM x AS a\nARG V=1\nENV E=2\nFROM a\nRUN make\n");
  const g = GlobalScope.create(df);
  const a = StageScope.fromImage(g, []);
  for (const i of df.stages[0]?.instructions ?? []) a.expand(i);
  const b = StageScope.fromStage(a);
  const ev = b.expand(df.stages[1]?.instructions[0] as Instruction);
  assert.deepEqual(ev.usedArgs, { V: "1" });
  assert.deepEqual(b.configEnv(), ["E=2"]);
  assert.deepEqual(b.runEnv(), ["V=1", "E=2"]);
});

test("instructionText ignores spelling and captures meaning", () => {
  const t = (text: string, opts: ScopeOptions = {}) => {
    const { evs } = run(text, opts);
    return evs.map((e) => instructionText(e));
  };
  assert.deepEqual(t("FROM x\nENV A 1\nenv   A=1\n"), ['ENV [["A","1"]]', 'ENV [["A","1"]]']);
  assert.deepEqual(t("FROM x\nCOPY --link --chown=1 a b\nCOPY --chown=1 --link a b\n").length, 2);
  const [c1, c2] = t("FROM x\nCOPY --link --chown=1 a b\nCOPY --chown=1 --link a b\n");
  assert.equal(c1, c2);
  const [r1] = t("FROM x\nARG V=1\nRUN echo \\\n  $V\n");
  assert.equal(r1, 'ARG [["V","1"]]');
  const runs = t('FROM x\nRUN echo hi\nRUN ["/bin/sh", "-c", "echo hi"]\n');
  assert.equal(runs[0], runs[1], "shell form and the equivalent exec form are the same command");
  assert.equal(runs[0], 'RUN {"argv":["/bin/sh","-c","echo hi"]}');
  const [w1] = t("FROM x\nARG D=/a\nWORKDIR $D\n", { buildArgs: { D: "/b" } }).slice(1);
  assert.equal(w1, 'WORKDIR "/b"');
});

test("resolveWorkdir and parseSignal", () => {
  assert.equal(resolveWorkdir("/", "app"), "/app");
  assert.equal(resolveWorkdir("/app", "src/../bin/"), "/app/bin");
  assert.equal(resolveWorkdir("/app", "/srv//x/."), "/srv/x");
  assert.equal(resolveWorkdir("", "a"), "/a");
  assert.equal(resolveWorkdir("/a", "../../.."), "/");
  assert.equal(parseSignal("SIGTERM"), 15);
  assert.equal(parseSignal("kill"), 9);
  assert.equal(parseSignal("9"), 9);
  assert.equal(parseSignal("SIGRTMIN+3"), 37);
  assert.throws(() => parseSignal("0"));
  assert.throws(() => parseSignal("SIGRTMAX+1"));
});
