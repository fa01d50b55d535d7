// Where a build's inputs come from, all on loopback: ADD of an http URL (a server in this
// test: redirects, 0600 files, the cache keyed on the content, --checksum), and base images
// pulled from a registry (`pier registry serve` on 127.0.0.1) when missing or with --pull.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { PIER, PierdRun } from "../../helpers/pierd.ts";

type Run = { status: number | null; stdout: string; stderr: string };
const ok = (r: Run, what: string) => assert.equal(r.status, 0, `${what}: ${r.stderr}${r.stdout}`);

describe("pier build: inputs from URLs and registries (loopback)", () => {
  let d: PierdRun;
  let http: Server;
  let httpPort = 0;
  let registry: ChildProcess | undefined;
  let regPort = 0;
  let served = "first version\n";
  let hits = 0;
  const pier = (...args: string[]): Run =>
    spawnSync(PIER, ["-H", `unix://${d.sock}`, ...args], { env: d.env, encoding: "utf8", timeout: 120_000 });
  // The http server lives in this process: builds that fetch from it must not block it.
  const pierAsync = (...args: string[]): Promise<Run> =>
    new Promise((resolve, reject) => {
      const c = spawn(PIER, ["-H", `unix://${d.sock}`, ...args], {
        env: d.env,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      c.stdout.setEncoding("utf8").on("data", (x: string) => (stdout += x));
      c.stderr.setEncoding("utf8").on("data", (x: string) => (stderr += x));
      c.on("error", reject);
      c.on("close", (status) => resolve({ status, stdout, stderr }));
    });

  before(async () => {
    d = await PierdRun.start();
    http = createServer((req, res) => {
      hits++;
      if (req.url === "/moved") {
        res.writeHead(302, { Location: "/files/app.txt" });
        res.end();
      } else if (req.url === "/files/app.txt") {
        res.writeHead(200, { "Last-Modified": "Tue, 14 Nov 2023 22:13:20 GMT" });
        res.end(served);
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", () => r()));
    const a = http.address();
    httpPort = typeof a === "object" && a ? a.port : 0;
    // A registry on loopback, over its own directory.
    const p = spawn(PIER, ["registry", "serve", "--addr", "127.0.0.1:0", "--root", join(d.dir, "registry")], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    registry = p;
    regPort = await new Promise<number>((resolve, reject) => {
      let out = "";
      const onData = (c: Buffer) => {
        out += c.toString();
        const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      };
      p.stdout!.on("data", onData);
      p.stderr!.on("data", onData);
      p.once("exit", () => reject(new Error(`registry exited: ${out}`)));
      setTimeout(() => reject(new Error(`registry did not start: ${out}`)), 10_000);
    });
  });
  after(async () => {
    await new Promise<void>((r) => (http ? http.close(() => r()) : r()));
    if (registry && registry.exitCode === null && registry.pid !== undefined) {
      const gone = new Promise((r) => registry!.once("exit", r));
      process.kill(registry.pid, "SIGTERM");
      await gone;
    }
    await d?.teardown();
  });

  test("ADD of an http URL: downloaded (redirects followed), mode 0600, cached by content", async () => {
    const ctx = join(d.dir, "add-url");
    mkdirSync(ctx, { recursive: true });
    const url = `http://127.0.0.1:${httpPort}`;
    writeFileSync(
      join(ctx, "Dockerfile"),
      `FROM busybox\nADD ${url}/moved /data/\nADD ${url}/files/app.txt /data/named.txt\nRUN stat -c "%a %n" /data/*; cat /data/moved\n`,
    );
    const r = await pierAsync("build", "--network", "none", "-t", "fromurl", ctx);
    ok(r, "build");
    // Named after the URL as written (docker's rule), not where it redirected.
    assert.match(r.stdout, /^600 \/data\/moved$/m);
    assert.match(r.stdout, /^600 \/data\/named\.txt$/m);
    assert.match(r.stdout, /^first version$/m);
    // Downloaded again, the same bytes: every step from the cache.
    const before = hits;
    const again = await pierAsync("build", "--network", "none", "-t", "fromurl", ctx);
    ok(again, "rebuild");
    assert.ok(hits > before, "the URL is fetched on each build");
    assert.equal(again.stdout.match(/Using cache/g)?.length, 3);
    // Other bytes at the URL: the ADD steps run again.
    served = "second version\n";
    const changed = await pierAsync("build", "--network", "none", "-t", "fromurl", ctx);
    ok(changed, "build after change");
    assert.match(changed.stdout, /^second version$/m);
  });

  test("ADD --checksum: the right one passes, a wrong one fails naming the line", async () => {
    const ctx = join(d.dir, "add-sum");
    mkdirSync(ctx, { recursive: true });
    const url = `http://127.0.0.1:${httpPort}/files/app.txt`;
    const sum = `sha256:${createHash("sha256").update(served).digest("hex")}`;
    writeFileSync(join(ctx, "Dockerfile"), `FROM busybox\nADD --checksum=${sum} ${url} /app.txt\n`);
    ok(await pierAsync("build", "-q", ctx), "build with the right checksum");
    writeFileSync(
      join(ctx, "Dockerfile"),
      `FROM busybox\nADD --checksum=sha256:${"0".repeat(64)} ${url} /app.txt\n`,
    );
    const bad = await pierAsync("build", "-q", ctx);
    assert.notEqual(bad.status, 0);
    assert.match(
      bad.stderr,
      /^Dockerfile:2: ADD failed: checksum of .* is sha256:[0-9a-f]{64}, not sha256:0{64}/m,
    );
  });

  test("a missing base image is pulled from its registry; --pull fetches a newer one", () => {
    const ref = `127.0.0.1:${regPort}/base:1`;
    ok(pier("tag", "busybox", ref), "tag");
    ok(pier("push", ref), "push");
    ok(pier("rmi", ref), "rmi");
    const ctx = join(d.dir, "pulled");
    mkdirSync(ctx, { recursive: true });
    writeFileSync(
      join(ctx, "Dockerfile"),
      `FROM ${ref}\nRUN cat /etc/base-version 2>/dev/null || echo none\n`,
    );
    const r = pier("build", "--network", "none", "-t", "pulled", ctx);
    ok(r, "build pulls the base");
    assert.match(r.stdout, /Pulling 127\.0\.0\.1:\d+\/base:1/);
    assert.match(r.stdout, /^none$/m);
    // The registry gets a newer base:1; here base:1 stays the old one.
    const newer = join(d.dir, "newer");
    mkdirSync(newer, { recursive: true });
    writeFileSync(join(newer, "Dockerfile"), "FROM busybox\nRUN echo v2 > /etc/base-version\n");
    ok(pier("build", "--network", "none", "-t", ref, newer), "build v2 as base:1");
    ok(pier("push", ref), "push v2");
    const v2 = d.docker("inspect", "-f", "{{.Id}}", ref).stdout.trim();
    ok(pier("tag", "busybox", ref), "base:1 here back to the old one");
    // Without --pull the local base is used (and the cache with it); with --pull the new one.
    const cached = pier("build", "--network", "none", "-t", "pulled", ctx);
    ok(cached, "build without --pull");
    assert.match(cached.stdout, /^ ---> Using cache$/m);
    const fresh = pier("build", "--pull", "--network", "none", "-t", "pulled", ctx);
    ok(fresh, "build --pull");
    assert.match(fresh.stdout, /^v2$/m);
    assert.equal(d.docker("inspect", "-f", "{{.Id}}", ref).stdout.trim(), v2);
  });
});
