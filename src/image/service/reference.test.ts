import assert from "node:assert/strict";
import { test } from "node:test";
import { isKind } from "../../common/errors.ts";
import { familiarReference, normalizeReference, parseReference } from "./reference.ts";

const D = `sha256:${"ab".repeat(32)}`;

test("normalizes references like docker", () => {
  const cases: [string, string][] = [
    ["busybox", "docker.io/library/busybox:latest"],
    ["busybox:1.36", "docker.io/library/busybox:1.36"],
    ["library/busybox", "docker.io/library/busybox:latest"],
    ["user/app:v1", "docker.io/user/app:v1"],
    ["docker.io/busybox", "docker.io/library/busybox:latest"],
    ["index.docker.io/library/busybox", "docker.io/library/busybox:latest"],
    ["localhost:5000/x:tag", "localhost:5000/x:tag"],
    ["localhost/x", "localhost/x:latest"],
    ["quay.io/a/b/c", "quay.io/a/b/c:latest"],
    ["127.0.0.1:5000/img", "127.0.0.1:5000/img:latest"],
    [`busybox@${D}`, `docker.io/library/busybox@${D}`],
    [`busybox:1@${D}`, `docker.io/library/busybox:1@${D}`],
    ["a_b-c__d/f--g.h", "docker.io/a_b-c__d/f--g.h:latest"],
  ];
  for (const [input, want] of cases) assert.equal(normalizeReference(input), want, input);
});

test("familiar forms", () => {
  assert.equal(familiarReference("docker.io/library/busybox:latest"), "busybox:latest");
  assert.equal(familiarReference("docker.io/user/app:v1"), "user/app:v1");
  assert.equal(familiarReference("localhost:5000/x:tag"), "localhost:5000/x:tag");
  assert.equal(familiarReference(`docker.io/library/busybox@${D}`), `busybox@${D}`);
});

test("parts", () => {
  assert.deepEqual(parseReference("localhost:5000/x/y:t"), {
    domain: "localhost:5000",
    path: "x/y",
    tag: "t",
  });
  assert.deepEqual(parseReference("busybox", { defaultTag: false }), {
    domain: "docker.io",
    path: "library/busybox",
  });
});

test("refuses bad references as InvalidArgument", () => {
  for (const bad of [
    "",
    "Busybox",
    "busybox:",
    "busybox:-x",
    "busybox@sha256:1234",
    "a//b",
    "-a",
    "a:b:c",
    "ab".repeat(32),
    `${"a".repeat(256)}`,
    "UPPER.io:notaport/x",
  ]) {
    assert.throws(
      () => parseReference(bad),
      (e: unknown) => isKind(e, "InvalidArgument"),
      bad,
    );
  }
  assert.throws(
    () => parseReference("busybox@md5:abc"),
    (e: unknown) => isKind(e, "InvalidArgument"),
  );
});
