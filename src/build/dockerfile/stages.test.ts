/** Stage selection: targets, dependencies, images, unused build args. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { PierError } from "../../common/errors.ts";
import { parseDockerfile } from "./parse.ts";
import { planStages, type PlanOptions } from "./stages.ts";

const plan = (text: string, opts: PlanOptions = {}) => planStages(parseDockerfile(text), opts);
const fails = (text: string, opts: PlanOptions, re: RegExp, hint?: RegExp) =>
  assert.throws(
    () => plan(text, opts),
    (e: unknown) =>
      e instanceof PierError &&
      e.kind === "InvalidArgument" &&
      re.test(e.message) &&
      (hint === undefined || hint.test(e.hint ?? "")),
  );

const MULTI = `ARG GO=1.22
FROM golang:\${GO} AS build
RUN go build -o /out/app
FROM build AS test
RUN go test ./...
FROM alpine AS lint
RUN lint
FROM scratch
COPY --from=build /out/app /app
COPY --from=nginx:1.25 /etc/nginx/mime.types /etc/
`;

test("the last stage by default: only what it needs, in file order", () => {
  const p = plan(MULTI);
  assert.equal(p.target.displayName, "stage-3");
  assert.deepEqual(p.order, [0, 3]);
  assert.deepEqual(p.stages[3]?.base, { kind: "scratch" });
  assert.deepEqual(p.stages[3]?.dependsOn, [0]);
  assert.deepEqual(p.stages[3]?.images, ["nginx:1.25"]);
  assert.deepEqual(p.images, ["golang:1.22", "nginx:1.25"]);
});

test("--target picks a stage by name (any case) and its chain of bases", () => {
  const p = plan(MULTI, { target: "TEST", buildArgs: { GO: "1.21" } });
  assert.equal(p.target.displayName, "test");
  assert.deepEqual(p.order, [0, 1]);
  assert.deepEqual(p.stages[1]?.base, { kind: "stage", index: 0 });
  assert.deepEqual(p.images, ["golang:1.21"]);
  assert.deepEqual(p.stages[0]?.fromArgs, { GO: "1.21" });
  assert.deepEqual(plan(MULTI, { target: "lint" }).order, [2]);
});

test("an unknown --target is a clear error", () => {
  fails(MULTI, { target: "tset" }, /^target stage "tset" could not be found$/, /did you mean test\?/);
  fails(
    MULTI,
    { target: "release" },
    /could not be found/,
    /the stages named in Dockerfile are: build, test, lint/,
  );
  fails("FROM a\nFROM b\n", { target: "x" }, /could not be found/, /no stage in Dockerfile has a name/);
});

test("COPY --from by index, RUN --mount from=, FROM of an earlier stage", () => {
  const text = `FROM alpine
RUN mkdir /a
FROM alpine AS tools
RUN make tools
FROM debian
COPY --from=0 /a /a
RUN --mount=type=bind,from=tools,source=/bin,target=/tools --mount=type=cache,target=/c /tools/x
RUN --mount=type=bind,from=busybox:latest,target=/bb ls /bb
`;
  const p = plan(text);
  assert.deepEqual(p.order, [0, 1, 2]);
  assert.deepEqual(p.stages[2]?.dependsOn, [0, 1]);
  assert.deepEqual(p.images, ["alpine", "debian", "busybox:latest"]);
});

test("a stage name that is no stage is an image; a later stage cannot be used", () => {
  const p = plan("FROM alpine AS a\nCOPY --from=later /x /x\nFROM alpine AS later2\n", { target: "a" });
  assert.deepEqual(p.stages[0]?.images, ["later"], "not a stage name: an image reference");
  fails(
    "FROM alpine AS a\nCOPY --from=b /x /x\nFROM alpine AS b\n",
    {},
    /^Dockerfile:2: cannot copy from stage "b", it needs to be defined before current stage "a"$/,
  );
  fails("FROM alpine\nCOPY --from=0 /x /x\n", {}, /cannot copy from stage "0"/);
  fails("FROM alpine\nCOPY --from=3 /x /x\n", {}, /^Dockerfile:2: invalid stage index 3$/);
  fails(
    "FROM alpine\nRUN --mount=from=${X},target=/x true\n",
    {},
    /variable expansion is not supported|doesn't support variable expansion/,
  );
  // FROM names only an earlier stage: a later stage of that name is an image for this FROM.
  const q = plan("FROM later AS first\nFROM alpine AS later\n", { target: "first" });
  assert.deepEqual(q.stages[0]?.base, { kind: "image", ref: "later" });
});

test("unused --build-args are reported (proxy and platform args never are)", () => {
  const p = plan(MULTI, {
    buildArgs: { GO: "1", NOPE: "x", HTTP_PROXY: "p", TARGETARCH: "arm64", TESTONLY: "1" },
  });
  assert.deepEqual(p.unusedBuildArgs, ["NOPE", "TESTONLY"]);
  const q = plan("FROM a AS x\nARG USED\nFROM b\nARG OTHER\n", {
    target: "x",
    buildArgs: { USED: "1", OTHER: "2" },
  });
  assert.deepEqual(q.unusedBuildArgs, ["OTHER"], "an ARG of a stage that is not built does not count");
});

test("FROM --platform is expanded and normalised", () => {
  const p = plan("FROM --platform=$BUILDPLATFORM golang AS b\nFROM --platform=Linux/ARM64 alpine\n", {
    buildPlatform: "linux/amd64",
  });
  assert.equal(p.stages[0]?.platform, "linux/amd64");
  assert.equal(p.stages[1]?.platform, "linux/arm64");
  fails("FROM --platform=linux alpine\n", {}, /^Dockerfile:1: invalid platform "linux"/);
});
