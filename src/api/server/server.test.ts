import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, test } from "node:test";
import { PierError, type ErrorKind } from "../../common/errors.ts";
import { ApiClient, DaemonError } from "../client/index.ts";
import { startTestDaemon, type TestDaemon } from "../testing.ts";
import { statusOfKind } from "./errors.ts";
import { Router, splitVersion } from "./router.ts";

describe("router", () => {
  const r = new Router<string>()
    .add("GET", "/images/json", "list")
    .add("GET", "/images/{name*}/json", "inspect")
    .add("POST", "/images/{name*}/push", "push")
    .add("DELETE", "/images/{name*}", "remove")
    .add("GET", "/containers/{id}/json", "container");

  test("literal routes win over greedy ones", () => {
    const m = r.match("GET", "/images/json");
    assert.ok(m && "handler" in m);
    assert.equal(m.handler, "list");
  });

  test("names with / and : fit a greedy param", () => {
    const m = r.match("POST", "/images/localhost:5000/bb/push");
    assert.ok(m && "handler" in m);
    assert.equal(m.handler, "push");
    assert.deepEqual(m.params, { name: "localhost:5000/bb" });
    const d = r.match("DELETE", "/images/docker.io/library/busybox:latest");
    assert.ok(d && "handler" in d);
    assert.equal(d.params.name, "docker.io/library/busybox:latest");
  });

  test("params are percent-decoded; a plain param stops at /", () => {
    const m = r.match("GET", "/images/a%2Fb%3A1/json");
    assert.ok(m && "handler" in m);
    assert.equal(m.params.name, "a/b:1");
    assert.equal(r.match("GET", "/containers/a/b/json"), undefined);
  });

  test("HEAD matches GET routes; another method is reported as not allowed", () => {
    const m = r.match("HEAD", "/images/json");
    assert.ok(m && "handler" in m);
    assert.deepEqual(r.match("PUT", "/containers/x/json"), { allowed: ["GET"] });
  });

  test("splitVersion", () => {
    assert.deepEqual(splitVersion("/v1.43/images/json"), { version: "1.43", path: "/images/json" });
    assert.deepEqual(splitVersion("/images/json"), { version: undefined, path: "/images/json" });
    assert.deepEqual(splitVersion("/v1.24"), { version: "1.24", path: "/" });
  });
});

describe("error kinds map to HTTP status in one place", () => {
  const cases: [ErrorKind, number][] = [
    ["NotFound", 404],
    ["AlreadyExists", 409],
    ["Conflict", 409],
    ["InvalidArgument", 400],
    ["NotImplemented", 501],
    ["Internal", 500],
  ];
  for (const [kind, status] of cases)
    test(`${kind} → ${status}`, () => assert.equal(statusOfKind(kind), status));
});

function raw(
  socketPath: string,
  method: string,
  path: string,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("server", () => {
  let d: TestDaemon;
  before(async () => {
    d = await startTestDaemon([{ names: ["busybox"] }]);
  });
  after(async () => {
    await d.close();
  });

  test("HEAD and GET /_ping carry docker's headers", async () => {
    const h = await raw(d.socketPath, "HEAD", "/_ping");
    assert.equal(h.status, 200);
    assert.equal(h.headers["api-version"], "1.43");
    assert.equal(h.headers["ostype"], "linux");
    assert.equal(h.headers["swarm"], "inactive");
    assert.equal(h.headers["builder-version"], "1");
    assert.equal(h.headers["cache-control"], "no-cache, no-store, must-revalidate");
    assert.equal(h.body, "");
    const g = await raw(d.socketPath, "GET", "/_ping");
    assert.equal(g.body, "OK");
  });

  test("the version prefix is optional, any version ≥ 1.24 is served, older ones refused", async () => {
    assert.equal((await raw(d.socketPath, "GET", "/images/json")).status, 200);
    assert.equal((await raw(d.socketPath, "GET", "/v1.50/images/json")).status, 200);
    assert.equal((await raw(d.socketPath, "GET", "/v1.24/images/json")).status, 200);
    const old = await raw(d.socketPath, "GET", "/v1.12/images/json");
    assert.equal(old.status, 400);
    assert.match(
      JSON.parse(old.body).message,
      /client version 1.12 is too old. Minimum supported API version is 1.24/,
    );
  });

  test("versions above 1.43 are served as 1.43 (image lists carry VirtualSize)", async () => {
    for (const v of ["1.43", "1.50"]) {
      const l = JSON.parse((await raw(d.socketPath, "GET", `/v${v}/images/json`)).body);
      assert.equal(typeof l[0].VirtualSize, "number");
    }
  });

  test("unknown paths and objects are JSON 404s", async () => {
    for (const p of [
      "/v1.43/nothing",
      "/v1.43/networks/x",
      "/v1.43/volumes/x",
      "/v1.43/plugins/x/json",
      "/v1.43/images/nope/json",
    ]) {
      const r = await raw(d.socketPath, "GET", p);
      assert.equal(r.status, 404, p);
      assert.equal(typeof JSON.parse(r.body).message, "string", p);
    }
  });

  test("/info has docker's shape", async () => {
    const info = JSON.parse((await raw(d.socketPath, "GET", "/v1.43/info")).body);
    assert.equal(info.Swarm.LocalNodeState, "inactive");
    assert.equal(info.Images, 1);
    assert.equal(info.OSType, "linux");
  });

  test("image inspect Created is an RFC 3339 string, list Created a number", async () => {
    const c = new ApiClient({ socketPath: d.socketPath });
    try {
      const i = await c.inspectImage("busybox");
      assert.equal(typeof i.Created, "string");
      assert.ok(!Number.isNaN(Date.parse(i.Created)));
      assert.deepEqual(i.RepoTags, ["busybox:latest"]);
      const [s] = await c.listImages();
      assert.equal(typeof s?.Created, "number");
    } finally {
      c.close();
    }
  });

  test("the client negotiates the version and turns error answers back into kinds", async () => {
    const c = new ApiClient({ socketPath: d.socketPath });
    try {
      assert.equal(await c.apiVersion(), "1.43");
      await assert.rejects(c.inspectImage("nope"), (e: unknown) => {
        assert.ok(e instanceof DaemonError);
        assert.ok(e instanceof PierError);
        assert.equal(e.kind, "NotFound");
        assert.equal(e.status, 404);
        assert.equal(e.message, "No such image: nope:latest");
        return true;
      });
    } finally {
      c.close();
    }
  });

  test("pull streams JSON lines separated by \\r\\n; a failure before output is a plain error", async () => {
    d.images.registry.set(
      "docker.io/library/alpine:latest",
      (await import("../memory/images.ts")).fakeImage({ names: ["alpine"], layers: 2 }),
    );
    const r = await raw(
      d.socketPath,
      "POST",
      "/v1.43/images/create?fromImage=docker.io%2Flibrary%2Falpine&tag=latest",
    );
    assert.equal(r.status, 200);
    assert.ok(r.body.endsWith("\r\n"));
    const lines = r.body
      .trim()
      .split("\r\n")
      .map((l) => JSON.parse(l));
    assert.deepEqual(lines[0], { status: "Pulling from library/alpine", id: "latest" });
    assert.ok(lines.some((l) => l.status === "Downloading" && l.progressDetail.total > 0));
    assert.equal(lines[lines.length - 1].status, "Status: Downloaded newer image for alpine:latest");
    const bad = await raw(d.socketPath, "POST", "/v1.43/images/create?fromImage=nothere&tag=latest");
    assert.equal(bad.status, 404);
  });

  test("a second server on a live socket is refused; a stale socket file is replaced", async () => {
    const { ApiServer } = await import("./server.ts");
    const other = new ApiServer();
    await assert.rejects(
      other.listen(d.socketPath),
      (e: unknown) => e instanceof PierError && e.kind === "AlreadyExists",
    );
    const { join } = await import("node:path");
    const stale = join(d.dir, "stale.sock");
    // A process killed while listening leaves its socket file behind.
    const { run } = await import("../testing.ts");
    await run(process.execPath, [
      "-e",
      `require("net").createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, "SIGKILL"))`,
    ]);
    const { existsSync } = await import("node:fs");
    assert.ok(existsSync(stale), "the stale socket file is still there");
    await other.listen(stale);
    const c = new ApiClient({ socketPath: stale });
    try {
      assert.equal(await c.apiVersion(), "1.43");
    } finally {
      c.close();
      await other.close();
    }
  });

  test("close removes the socket", async () => {
    const d2 = await startTestDaemon();
    await d2.close();
    const { existsSync } = await import("node:fs");
    assert.equal(existsSync(d2.socketPath), false);
  });
});
