// A Debian-based image that RUNs `apt-get install` of a package from Debian's mirrors: the
// RUN containers are on the default bridge network, so apt reaches deb.debian.org. The base
// is made by `pier image bootstrap debian:bookworm` (debootstrap). This is the one build test
// that leaves the machine: it needs the network and minutes, so it runs only with
// PIER_TEST_DEBOOTSTRAP=1.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { PIER, PierdRun } from "../../helpers/pierd.ts";

const skip =
  (process.env.PIER_TEST_DEBOOTSTRAP !== "1" &&
    "set PIER_TEST_DEBOOTSTRAP=1 (slow, needs Debian's mirrors)") ||
  (spawnSync("debootstrap", ["--version"]).status !== 0 && "debootstrap is not installed");

type Run = { status: number | null; stdout: string; stderr: string };
const ok = (r: Run, what: string) => assert.equal(r.status, 0, `${what}: ${r.stderr}${r.stdout}`);

describe("pier build: a Debian image with apt-get install from the mirrors", { skip }, () => {
  let d: PierdRun;
  const pier = (...args: string[]): Run =>
    spawnSync(PIER, ["-H", `unix://${d.sock}`, ...args], { env: d.env, encoding: "utf8", timeout: 900_000 });
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
    d = await PierdRun.start({ busybox: false });
  });
  after(async () => {
    await d?.teardown();
  });

  test("bootstrap debian:bookworm, then RUN apt-get install hello", () => {
    ok(pier("image", "bootstrap", "debian:bookworm"), "bootstrap debian:bookworm");
    const ctx = join(d.dir, "deb");
    mkdirSync(ctx, { recursive: true });
    writeFileSync(
      join(ctx, "Dockerfile"),
      [
        "FROM debian:bookworm",
        "RUN apt-get update && \\",
        "    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends hello procps && \\",
        "    rm -rf /var/lib/apt/lists/*",
        'CMD ["hello"]',
        "",
      ].join("\n"),
    );
    const r = pier("build", "-t", "deb-hello", ctx);
    ok(r, "build");
    assert.match(r.stdout, /Setting up hello/);
    const run = output("deb-hello");
    ok(run, "run");
    assert.equal(run.stdout, "Hello, world!\n");
    // The apt-get layer is in the history, over debian's one layer.
    const h = pier("history", "--format", "{{.CreatedBy}}", "--no-trunc", "deb-hello");
    assert.match(h.stdout.split("\n")[1] ?? "", /^RUN \/bin\/sh -c apt-get update/);
    // Rebuilt from the cache: nothing fetched again.
    const again = pier("build", "-t", "deb-hello", ctx);
    ok(again, "rebuild");
    assert.equal(again.stdout.match(/Using cache/g)?.length, 2);
  });

  test("lxcfs: procps `free -m` in a --memory 256m container says 256", () => {
    // busybox's free asks sysinfo(2), which no file system can answer; procps (installed in
    // the image built above) reads /proc/meminfo, which lxcfs answers from the cgroup.
    const r = pier("run", "--rm", "--network", "none", "--memory", "256m", "deb-hello", "free", "-m");
    ok(r, "free -m");
    assert.match(r.stdout, /^Mem:\s+256\s/m, r.stdout);
  });
});
