// The real docker CLI against pier's API server (in this process, fake image backend).
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fakeImage } from "../memory/images.ts";
import { run, startTestDaemon, type TestDaemon } from "../testing.ts";

const DOCKER = ["/usr/local/bin/docker", "/usr/bin/docker"].find((p) => existsSync(p));
const PIER = join(import.meta.dirname, "..", "..", "cmd", "pier.ts");

describe("docker CLI against pier", { skip: DOCKER ? false : "docker CLI not installed" }, () => {
  let d: TestDaemon;
  let env: NodeJS.ProcessEnv;
  const docker = (...args: string[]) => run(DOCKER!, args, { env });
  const pier = (...args: string[]) =>
    run(process.execPath, ["--import", "tsx", PIER, "-H", `unix://${d.socketPath}`, ...args], { env });

  before(async () => {
    const twoYears = new Date(Date.now() - 800 * 86_400_000);
    d = await startTestDaemon([
      { names: ["busybox", "busybox:1.36"], size: 4_261_550, created: twoYears },
      {
        names: ["localhost:5000/app:v1"],
        size: 77_900_000,
        layers: 3,
        seed: "app",
        created: new Date(Date.now() - 3 * 3_600_000),
      },
      { names: [], size: 1_000, seed: "dangling", created: new Date(Date.now() - 60_000) },
    ]);
    d.images.registry.set("docker.io/library/alpine:latest", fakeImage({ names: ["alpine"], layers: 2 }));
    const config = join(d.dir, "docker-config");
    mkdirSync(config);
    env = {
      PATH: process.env.PATH,
      HOME: d.dir,
      DOCKER_CONFIG: config,
      DOCKER_HOST: `unix://${d.socketPath}`,
    };
  });
  after(async () => {
    await d.close();
  });

  test("docker version negotiates 1.43", async () => {
    const r = await docker(
      "version",
      "--format",
      "{{.Server.APIVersion}} {{.Server.Version}} {{.Client.APIVersion}}",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "1.43 0.1.0 1.43\n");
  });

  test("docker images and pier images print the same table", async () => {
    const a = await docker("images");
    const b = await pier("images");
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const lines = a.stdout.trimEnd().split("\n");
    assert.match(lines[0]!, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    assert.ok(
      lines.some((l) => /^busybox\s+1\.36\s+[0-9a-f]{12}\s+2 years ago\s+4\.26MB$/.test(l)),
      a.stdout,
    );
    assert.ok(
      lines.some((l) => /^<none>\s+<none>\s/.test(l)),
      a.stdout,
    );
    assert.equal(b.stdout, a.stdout);
  });

  test("--format, -q and --no-trunc agree between docker and pier", async () => {
    for (const args of [
      ["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}"],
      ["images", "--format", "table {{.Repository}}\\t{{.Tag}}\\t{{.CreatedSince}}"],
      ["images", "-q"],
      ["images", "--no-trunc", "--format", "{{.ID}}"],
      ["images", "busybox"],
    ]) {
      const a = await docker(...args);
      const b = await pier(...args);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.stdout, a.stdout, args.join(" "));
    }
  });

  test("docker image inspect; docker inspect falls through to images and 404s the rest", async () => {
    const r = await docker("image", "inspect", "busybox");
    assert.equal(r.code, 0, r.stderr);
    const [img] = JSON.parse(r.stdout) as { Id: string; RepoTags: string[]; Created: string }[];
    assert.match(img!.Id, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(img!.RepoTags, ["busybox:latest", "busybox:1.36"]);
    const f = await docker(
      "image",
      "inspect",
      "-f",
      "{{.Os}}/{{.Architecture}} {{len .RootFS.Layers}}",
      "localhost:5000/app:v1",
    );
    assert.equal(f.stdout, "linux/amd64 3\n");
    const g = await docker("inspect", "--format", "{{.Id}}", "busybox");
    assert.equal(g.stdout.trim(), img!.Id);
    const missing = await docker("inspect", "nothing");
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No such object: nothing/);
    const missingImage = await docker("image", "inspect", "nothing");
    assert.equal(missingImage.code, 1);
    assert.match(missingImage.stderr, /Error response from daemon: No such image: nothing:latest/);
  });

  test("docker tag and docker rmi", async () => {
    const t = await docker("tag", "busybox", "localhost:5000/bb");
    assert.equal(t.code, 0, t.stderr);
    const l = await docker("images", "--format", "{{.Repository}}:{{.Tag}}", "localhost:5000/bb");
    assert.equal(l.stdout, "localhost:5000/bb:latest\n");
    const rm = await docker("rmi", "localhost:5000/bb");
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal(rm.stdout, "Untagged: localhost:5000/bb:latest\n");
    const again = await docker("rmi", "localhost:5000/bb");
    assert.equal(again.code, 1);
    assert.equal(again.stderr, "Error response from daemon: No such image: localhost:5000/bb:latest\n");
    const conflict = await docker("rmi", (await docker("images", "-q", "busybox:1.36")).stdout.trim());
    assert.equal(conflict.code, 1);
    assert.match(conflict.stderr, /must be forced/);
  });

  test("docker pull, push, save and load", async () => {
    const p = await docker("pull", "alpine");
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stdout, /Status: Downloaded newer image for alpine:latest/);
    assert.match(p.stdout, /docker\.io\/library\/alpine:latest\n$/);
    const bad = await docker("pull", "nothere");
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /pull access denied for nothere/);
    const push = await docker("push", "localhost:5000/app:v1");
    assert.equal(push.code, 0, push.stderr);
    assert.match(push.stdout, /v1: digest: sha256:[0-9a-f]{64} size: 527/);
    for (const args of [
      ["images", "--digests"],
      ["images", "--format", "json"],
      ["history", "localhost:5000/app:v1"],
      ["history", "--no-trunc", "--format", "json", "localhost:5000/app:v1"],
    ]) {
      const a = await docker(...args);
      const b = await pier(...args);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.stdout, a.stdout, args.join(" "));
    }
    const file = join(d.dir, "app.tar");
    const s = await docker("save", "-o", file, "localhost:5000/app:v1");
    assert.equal(s.code, 0, s.stderr);
    assert.ok(readFileSync(file).length > 0);
    assert.equal((await docker("rmi", "localhost:5000/app:v1")).code, 0);
    const ld = await docker("load", "-i", file);
    assert.equal(ld.code, 0, ld.stderr);
    assert.match(ld.stdout, /Loaded image: localhost:5000\/app:v1/);
  });
});
