// The pier CLI against pier's API server: in-process (main with captured output) for most
// commands, as a real process for the entry point, and the auto-start of pierd.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fakeImage } from "../api/memory/images.ts";
import { run, startTestDaemon, type TestDaemon } from "../api/testing.ts";
import type { JsonMessage } from "../api/types.ts";
import { main } from "./main.ts";
import { renderProgress } from "./progress.ts";

const PIER = join(import.meta.dirname, "..", "cmd", "pier.ts");

async function pierIn(socketPath: string, args: string[], tty = false) {
  let stdout = "";
  let stderr = "";
  const code = await main(["-H", `unix://${socketPath}`, ...args], {
    io: { out: (s) => (stdout += s), err: (s) => (stderr += s), stdoutIsTTY: tty },
    autostart: null,
  });
  return { code, stdout, stderr };
}

describe("pier CLI", () => {
  let d: TestDaemon;
  const pier = (...args: string[]) => pierIn(d.socketPath, args);

  before(async () => {
    d = await startTestDaemon([
      { names: ["busybox"], layers: 2 },
      { names: ["localhost:5000/app:v1"], seed: "app" },
    ]);
    d.images.registry.set("docker.io/library/alpine:latest", fakeImage({ names: ["alpine"], layers: 2 }));
  });
  after(async () => {
    await d.close();
  });

  test("pier images --format, as a real process", async () => {
    const r = await run(process.execPath, [
      "--import",
      "tsx",
      PIER,
      "-H",
      `unix://${d.socketPath}`,
      "images",
      "--format",
      "{{.Repository}}:{{.Tag}}",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "busybox:latest\nlocalhost:5000/app:v1\n");
  });

  test("images --format json and table", async () => {
    const j = await pier("images", "--format", "json", "busybox");
    assert.equal(JSON.parse(j.stdout).Repository, "busybox");
    const t = await pier("image", "ls", "--format", "table {{.Repository}}\\t{{.Tag}}");
    assert.equal(
      t.stdout,
      "REPOSITORY           TAG\nbusybox              latest\nlocalhost:5000/app   v1\n",
    );
  });

  test("image inspect, --format, and a missing image", async () => {
    const r = await pier("image", "inspect", "busybox");
    assert.equal(r.code, 0);
    assert.equal(JSON.parse(r.stdout)[0].RepoTags[0], "busybox:latest");
    assert.ok(r.stdout.startsWith("[\n    {\n"));
    const f = await pier("image", "inspect", "-f", "{{json .RepoTags}} {{ .Config.Cmd }}", "busybox");
    assert.equal(f.stdout, '["busybox:latest"] [sh]\n');
    const m = await pier("image", "inspect", "nope");
    assert.equal(m.code, 1);
    assert.equal(m.stdout, "[]\n");
    assert.equal(m.stderr, "Error response from daemon: No such image: nope:latest\n");
  });

  test("history", async () => {
    const r = await pier("history", "busybox");
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.match(lines[0]!, /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/);
    assert.match(lines[2]!, /^<missing>\s/);
    assert.equal(lines.length, 3);
  });

  test("tag then rmi; errors and exit codes", async () => {
    assert.equal((await pier("tag", "busybox", "localhost:5000/bb:2")).code, 0);
    const l = await pier("images", "-q", "localhost:5000/bb:2");
    assert.match(l.stdout, /^[0-9a-f]{12}\n$/);
    const rm = await pier("rmi", "localhost:5000/bb:2", "nope");
    assert.equal(rm.code, 1);
    assert.equal(rm.stdout, "Untagged: localhost:5000/bb:2\n");
    assert.equal(rm.stderr, "Error response from daemon: No such image: nope:latest\n");
  });

  test("usage errors exit 125 like docker", async () => {
    const r = await pier("images", "--nope");
    assert.equal(r.code, 125);
    assert.equal(r.stderr, "unknown flag: --nope\nSee 'pier images --help'.\n");
    assert.equal((await pier("tag", "one")).code, 125);
    assert.equal((await pier("frobnicate")).code, 125);
    assert.equal((await pier("images", "--format", "{{.ID")).code, 125);
  });

  test("pull and push print progress; errors from the daemon exit 1", async () => {
    const p = await pier("pull", "alpine");
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout, /^latest: Pulling from library\/alpine\n/);
    assert.match(p.stdout, /: Pull complete\n/);
    assert.doesNotMatch(p.stdout, /Downloading/); // no progress lines without a terminal
    assert.ok(
      p.stdout.endsWith(
        "Status: Downloaded newer image for alpine:latest\ndocker.io/library/alpine:latest\n",
      ),
    );
    const bad = await pier("pull", "nothere");
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^Error response from daemon: pull access denied for nothere/);
    const push = await pier("push", "localhost:5000/app:v1");
    assert.equal(push.code, 0, push.stderr);
    assert.match(push.stdout, /^The push refers to repository \[localhost:5000\/app\]\n/);
    assert.match(push.stdout, /v1: digest: sha256:[0-9a-f]{64} size: 527\n$/);
  });

  test("save -o and load -i round-trip", async () => {
    const file = join(d.dir, "bb.tar");
    const s = await pier("save", "-o", file, "busybox");
    assert.equal(s.code, 0, s.stderr);
    assert.ok(existsSync(file));
    assert.equal((await pier("rmi", "busybox")).code, 0);
    const l = await pier("load", "-i", file);
    assert.equal(l.code, 0, l.stderr);
    assert.equal(l.stdout, "Loaded image: busybox:latest\n");
  });

  test("version and info --format", async () => {
    const v = await pier("version", "--format", "{{.Server.ApiVersion}}");
    assert.equal(v.stdout, "1.43\n");
    const i = await pier("info", "--format", "{{.Swarm.LocalNodeState}}");
    assert.equal(i.stdout, "inactive\n");
  });
});

test("progress on a terminal redraws each layer's line in place", async () => {
  const msgs: JsonMessage[] = [
    { status: "Pulling from library/x", id: "latest" },
    { status: "Pulling fs layer", id: "a" },
    { status: "Pulling fs layer", id: "b" },
    { status: "Downloading", id: "a", progressDetail: { current: 50, total: 100 } },
    { status: "Pull complete", id: "a" },
  ];
  let out = "";
  async function* gen() {
    yield* msgs;
  }
  await renderProgress(gen(), { write: (s) => (out += s), isTTY: true });
  const ESC = "\x1b";
  assert.ok(
    out.includes(`${ESC}[2A${ESC}[2K\ra: Downloading [=========================>`),
    JSON.stringify(out),
  );
  assert.ok(out.endsWith(`${ESC}[2A${ESC}[2K\ra: Pull complete${ESC}[2B\r`), JSON.stringify(out));
  await assert.rejects(
    renderProgress(
      (async function* () {
        yield { errorDetail: { message: "boom" }, error: "boom" } as JsonMessage;
      })(),
      { write: () => {}, isTTY: false },
    ),
    /boom/,
  );
});

describe("auto-start", () => {
  const dir = mkdtempSync(join(tmpdir(), "pier-autostart-"));
  const socketPath = join(dir, "pier.sock");
  let pid = 0;

  after(() => {
    if (pid > 0) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test("pier starts pierd when nothing answers, says so, and pierd stops cleanly on SIGTERM", async () => {
    const env = { ...process.env, PIER_DAEMON_LOG: join(dir, "pierd.log"), PIER_ROOT: dir };
    const r = await run(
      process.execPath,
      ["--import", "tsx", PIER, "-H", `unix://${socketPath}`, "images", "-q"],
      {
        env,
      },
    );
    const m = /^pier: started pierd \(pid (\d+)\)\n$/.exec(r.stderr);
    assert.ok(m, r.stderr);
    pid = Number(m[1]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "");
    // A second run finds it running and starts nothing.
    const again = await run(
      process.execPath,
      ["--import", "tsx", PIER, "-H", `unix://${socketPath}`, "version", "-f", "{{.Server.Version}}"],
      { env },
    );
    assert.equal(again.stderr, "");
    assert.equal(again.stdout, "0.1.0\n");
    process.kill(pid, "SIGTERM");
    const deadline = Date.now() + 5000;
    while (existsSync(socketPath) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    assert.equal(existsSync(socketPath), false, "pierd removes its socket on SIGTERM");
    assert.match(readFileSync(join(dir, "pierd.log"), "utf8"), /SIGTERM: shutting down/);
    pid = 0;
  });
});
