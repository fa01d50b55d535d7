import { test } from "node:test";
import assert from "node:assert/strict";
import { isKind } from "../common/errors.ts";
import { cgroupVersion, detectCgroups, expandSlice, parseCgroupsPath } from "./detect.ts";

test("parseCgroupsPath: cgroupfs paths", () => {
  assert.equal(parseCgroupsPath(undefined, "abc", false), "/pier/abc");
  assert.equal(parseCgroupsPath("", "abc", false), "/pier/abc");
  assert.equal(parseCgroupsPath("/docker/abc", "abc", false), "/docker/abc");
  assert.equal(parseCgroupsPath("/a//b/", "abc", false), "/a/b");
  assert.equal(parseCgroupsPath("a/b", "abc", false), "/a/b"); // relative: from the root
  for (const bad of ["/", "/a/../b", "./a"]) {
    assert.throws(
      () => parseCgroupsPath(bad, "abc", false),
      (e) => isKind(e, "InvalidArgument"),
      bad,
    );
  }
  assert.throws(
    () => parseCgroupsPath(undefined, "a/b", false),
    (e) => isKind(e, "InvalidArgument"),
  );
});

test("parseCgroupsPath: systemd slice:prefix:name", () => {
  assert.equal(parseCgroupsPath("machine.slice:libpod:abc", "abc", true), "/machine.slice/libpod-abc.scope");
  assert.equal(parseCgroupsPath("system.slice:docker:abc", "abc", true), "/system.slice/docker-abc.scope");
  assert.equal(parseCgroupsPath(":pier:abc", "abc", true), "/system.slice/pier-abc.scope");
  assert.equal(parseCgroupsPath(undefined, "abc", true), "/system.slice/pier-abc.scope");
  assert.equal(
    parseCgroupsPath("user-1000.slice:podman:x", "x", true),
    "/user.slice/user-1000.slice/podman-x.scope",
  );
  assert.equal(parseCgroupsPath("a-b-c.slice::x", "x", true), "/a.slice/a-b.slice/a-b-c.slice/x.scope");
  assert.equal(parseCgroupsPath("-.slice:p:x", "x", true), "/p-x.scope");
  assert.equal(parseCgroupsPath("machine.slice:p:mine.slice", "x", true), "/machine.slice/mine.slice");
  for (const bad of [
    "abc",
    "a:b",
    "a.slice:p:",
    "a.slice:p:x:y",
    "machine:p:x",
    "a--b.slice:p:x",
    "-a.slice:p:x",
    "a/b.slice:p:x",
  ]) {
    assert.throws(
      () => parseCgroupsPath(bad, "abc", true),
      (e) => isKind(e, "InvalidArgument"),
      bad,
    );
  }
});

test("expandSlice", () => {
  assert.equal(expandSlice("-.slice"), "/");
  assert.equal(expandSlice("a.slice"), "/a.slice");
  assert.equal(expandSlice("a-b.slice"), "/a.slice/a-b.slice");
  for (const bad of [".slice", "a", "a-.slice", "a/b.slice"]) {
    assert.throws(
      () => expandSlice(bad),
      (e) => isKind(e, "InvalidArgument"),
      bad,
    );
  }
});

test("detect: this host", () => {
  const v = cgroupVersion();
  const m = detectCgroups();
  assert.equal(m.version, v);
  assert.equal(detectCgroups(), m, "cached");
});
