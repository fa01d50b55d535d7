// End to end: pierd (a child process on a temp socket and state dir) serving the real
// image layer to `pier` and to the docker CLI, with `pier registry serve` as the registry.
// Every process is started here and ended by its pid; the temp dir goes in `after`.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";

const SRC = resolve(import.meta.dirname, "../..");
const PIERD = join(SRC, "cmd", "pierd.ts");
const PIER = join(SRC, "cmd", "pier.ts");
const hasBusybox = existsSync("/bin/busybox");
const hasDocker = spawnSync("docker", ["--version"], { stdio: "ignore" }).status === 0;

interface Run {
  code: number | null;
  out: string;
  err: string;
}

function waitFor(check: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((res, rej) => {
    const tick = () => {
      if (check()) res();
      else if (Date.now() > deadline) rej(new Error(`timed out waiting for ${what}`));
      else setTimeout(tick, 50);
    };
    tick();
  });
}

describe(
  "pierd serves the real image layer",
  { skip: !hasBusybox && "needs /bin/busybox (busybox-static)" },
  () => {
    let dir = "";
    let sock = "";
    const children: ChildProcess[] = [];
    let regPort = 0;
    let proxy: Server | undefined;
    let env: NodeJS.ProcessEnv = {};

    const pier = (args: string[], input?: string): Promise<Run> =>
      new Promise((res) => {
        const c = spawn(process.execPath, ["--import", "tsx", PIER, "-H", `unix://${sock}`, ...args], {
          env,
        });
        let out = "";
        let err = "";
        c.stdout.on("data", (b: Buffer) => (out += b.toString()));
        c.stderr.on("data", (b: Buffer) => (err += b.toString()));
        c.on("close", (code) => res({ code, out, err }));
        c.stdin.end(input ?? "");
      });
    const ok = async (args: string[]): Promise<string> => {
      const r = await pier(args);
      assert.equal(r.code, 0, `pier ${args.join(" ")}: ${r.err}`);
      return r.out;
    };
    const docker = (args: string[]) =>
      spawnSync("docker", args, { env: { ...env, DOCKER_HOST: `unix://${sock}` }, encoding: "utf8" });

    /** Starts a long-running child; `ready` reads its output until it says it is up. */
    function start(args: string[], ready: (out: string) => boolean, what: string): Promise<string> {
      const c = spawn(process.execPath, ["--import", "tsx", ...args], {
        env,
        stdio: ["ignore", "pipe", "pipe"],
      });
      children.push(c);
      let out = "";
      c.stdout?.on("data", (b: Buffer) => (out += b.toString()));
      c.stderr?.on("data", (b: Buffer) => (out += b.toString()));
      return waitFor(() => ready(out) || c.exitCode !== null, what).then(() => {
        if (c.exitCode !== null) throw new Error(`${what} exited: ${out}`);
        return out;
      });
    }

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), "pier-e2e-"));
      sock = join(dir, "pier.sock");
      env = {
        ...process.env,
        DOCKER_CONFIG: join(dir, "docker"),
        PIER_DAEMON_LOG: join(dir, "autostart.log"),
      };
      await start(
        [PIERD, "-H", `unix://${sock}`, "--root", join(dir, "state")],
        () => existsSync(sock),
        "pierd",
      );
      const out = await start(
        [PIER, "registry", "serve", "--addr", "127.0.0.1:0", "--root", join(dir, "registry")],
        (o) => /listening on http:\/\/127\.0\.0\.1:\d+/.test(o),
        "pier registry serve",
      );
      regPort = Number(/127\.0\.0\.1:(\d+)/.exec(out)?.[1]);
    });

    after(async () => {
      for (const c of children)
        if (c.exitCode === null && c.pid !== undefined) process.kill(c.pid, "SIGTERM");
      await Promise.all(
        children.map((c) => (c.exitCode === null ? new Promise((r) => c.once("exit", r)) : undefined)),
      );
      await new Promise<void>((r) => (proxy ? proxy.close(() => r()) : r()));
      rmSync(dir, { recursive: true, force: true });
    });

    test("bootstrap, images, tag, history, inspect", async () => {
      await ok(["image", "bootstrap", "busybox"]);
      assert.match(await ok(["images"]), /^busybox\s+latest\s+[0-9a-f]{12}\s/m);
      await ok(["tag", "busybox", "bb:2"]);
      assert.match(await ok(["images", "--format", "{{.Repository}}:{{.Tag}}"]), /^bb:2$/m);
      const hist = await ok(["history", "busybox"]);
      assert.match(hist.split("\n")[0]!, /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT/);
      const id = (await ok(["image", "inspect", "--format", "{{.Id}}", "busybox"])).trim();
      assert.match(id, /^sha256:[0-9a-f]{64}$/);
      assert.match(hist.split("\n")[1]!, new RegExp(`^${id.slice(7, 19)}`));
    });

    test("push to pier registry serve, rmi, pull back the same image", async () => {
      const id = (await ok(["image", "inspect", "--format", "{{.Id}}", "busybox"])).trim();
      const ref = `127.0.0.1:${regPort}/bb:1`;
      await ok(["tag", "busybox", ref]);
      assert.match(await ok(["push", ref]), /1: digest: sha256:[0-9a-f]{64} size: \d+/);
      await ok(["rmi", ref]);
      await assert.rejects(ok(["image", "inspect", ref]));
      assert.match(await ok(["pull", ref]), /Digest: sha256:/);
      assert.equal((await ok(["image", "inspect", "--format", "{{.Id}}", ref])).trim(), id);
    });

    test("save, rmi, load restores the image", async () => {
      const id = (await ok(["image", "inspect", "--format", "{{.Id}}", "bb:2"])).trim();
      const tar = join(dir, "x.tar");
      await ok(["save", "-o", tar, "bb:2"]);
      await ok(["rmi", "bb:2"]);
      assert.match(await ok(["load", "-i", tar]), /Loaded image: bb:2/);
      assert.equal((await ok(["image", "inspect", "--format", "{{.Id}}", "bb:2"])).trim(), id);
    });

    test("import a directory", async () => {
      assert.notEqual((await pier(["import", join(dir, "no-such-dir"), "imp:0"])).code, 0);
      const id = (await ok(["import", "-c", 'CMD ["sh"]', join(SRC, "engine"), "imp:1"])).trim();
      assert.match(id, /^sha256:[0-9a-f]{64}$/);
      assert.equal((await ok(["image", "inspect", "--format", "{{.Id}}", "imp:1"])).trim(), id);
    });

    test("the docker CLI against pierd: images, push, pull", { skip: !hasDocker && "no docker CLI" }, () => {
      const ref = `127.0.0.1:${regPort}/viadocker:3`;
      assert.equal(docker(["tag", "busybox", ref]).status, 0);
      const push = docker(["push", ref]);
      assert.equal(push.status, 0, push.stderr);
      assert.equal(docker(["rmi", ref]).status, 0);
      const pull = docker(["pull", ref]);
      assert.equal(pull.status, 0, pull.stderr);
      const images = docker(["images", "--format", "{{.Repository}}:{{.Tag}}"]);
      assert.match(images.stdout, new RegExp(`^127.0.0.1:${regPort}/viadocker:3$`, "m"));
    });

    test(
      "the docker CLI against pierd: inspect, history, save/rmi/load, save to stdout",
      { skip: !hasDocker && "no docker CLI" },
      async () => {
        const id = (await ok(["image", "inspect", "--format", "{{.Id}}", "busybox"])).trim();
        const ins = docker(["image", "inspect", "busybox:latest", "--format", "{{.Id}} {{.Created}}"]);
        assert.equal(ins.status, 0, ins.stderr);
        const [gotId, created] = ins.stdout.trim().split(" ");
        assert.equal(gotId, id);
        assert.match(created ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
        assert.ok(!Number.isNaN(Date.parse(created!)), created);
        const hist = docker(["history", "busybox"]);
        assert.equal(hist.status, 0, hist.stderr);
        assert.match(hist.stdout.split("\n")[0]!, /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT/);
        assert.match(hist.stdout.split("\n")[1]!, new RegExp(`^${id.slice(7, 19)}`));
        const tar = join(dir, "docker-save.tar");
        const save = docker(["save", "-o", tar, "busybox:latest"]);
        assert.equal(save.status, 0, save.stderr);
        const rmi = docker(["rmi", "busybox:latest"]);
        assert.equal(rmi.status, 0, rmi.stderr);
        assert.notEqual(docker(["image", "inspect", "busybox:latest"]).status, 0);
        const load = docker(["load", "-i", tar]);
        assert.equal(load.status, 0, load.stderr);
        assert.match(load.stdout, /Loaded image: busybox:latest/);
        const back = docker(["image", "inspect", "busybox:latest", "--format", "{{.Id}}"]);
        assert.equal(back.status, 0, back.stderr);
        assert.equal(back.stdout.trim(), id);
        const list = spawnSync("sh", ["-c", "docker save busybox | tar -t"], {
          env: { ...env, DOCKER_HOST: `unix://${sock}` },
          encoding: "utf8",
        });
        assert.equal(list.status, 0, list.stderr);
        assert.match(list.stdout, /^manifest\.json$/m);
      },
    );

    test("login checks credentials, stores them like docker; push uses them; logout", async () => {
      const out = await start(
        [
          PIER,
          "registry",
          "serve",
          "--addr",
          "127.0.0.1:0",
          "--root",
          join(dir, "authreg"),
          "--user",
          "al:pw",
        ],
        (o) => /listening on http:\/\/127\.0\.0\.1:\d+/.test(o),
        "pier registry serve --user",
      );
      const reg = `127.0.0.1:${/127\.0\.0\.1:(\d+)/.exec(out)?.[1]}`;
      const bad = await pier(["login", "-u", "al", "-p", "nope", reg]);
      assert.notEqual(bad.code, 0);
      assert.match(bad.err, /401|unauthorized|authentication/i);
      assert.match(
        (await pier(["login", "-u", "al", "--password-stdin", reg], "pw\n")).out,
        /Login Succeeded/,
      );
      const cfg = JSON.parse(readFileSync(join(dir, "docker", "config.json"), "utf8")) as {
        auths: Record<string, { auth: string }>;
      };
      assert.equal(cfg.auths[reg]?.auth, Buffer.from("al:pw").toString("base64"));
      await ok(["tag", "busybox", `${reg}/bb:1`]);
      await ok(["push", `${reg}/bb:1`]);
      assert.match(await ok(["logout", reg]), /Removing login credentials/);
      assert.notEqual((await pier(["pull", `${reg}/bb:1`])).code, 0);
    });

    test("a corrupt blob from a registry: the pull fails cleanly, nothing is left", async () => {
      // A proxy in front of the registry that flips one byte of every blob it serves.
      proxy = createServer((req, res) => {
        const up = request(
          { host: "127.0.0.1", port: regPort, path: req.url, method: req.method, headers: req.headers },
          (r) => {
            res.writeHead(r.statusCode ?? 502, r.headers);
            const corrupt = req.method === "GET" && /\/blobs\/sha256:/.test(req.url ?? "");
            let first = corrupt;
            r.on("data", (b: Buffer) => {
              if (first && b.length > 0) {
                b = Buffer.from(b);
                b[0] = b[0]! ^ 0xff;
                first = false;
              }
              res.write(b);
            });
            r.on("end", () => res.end());
          },
        );
        req.pipe(up);
      });
      await new Promise<void>((r) => proxy!.listen(0, "127.0.0.1", () => r()));
      const port = (proxy.address() as AddressInfo).port;
      const blobs = () => readdirSync(join(dir, "state", "image", "content", "blobs", "sha256")).sort();
      const before = blobs();
      const ref = `127.0.0.1:${port}/imp:9`;
      // A fresh image so that its blobs are not in pierd's store yet.
      await ok(["tag", "imp:1", `127.0.0.1:${regPort}/imp:9`]);
      await ok(["push", `127.0.0.1:${regPort}/imp:9`]);
      await ok(["rmi", `127.0.0.1:${regPort}/imp:9`, "imp:1"]);
      const gone = blobs();
      const r = await pier(["pull", ref]);
      assert.notEqual(r.code, 0);
      assert.match(r.err, /digest|mismatch|corrupt/i, r.err);
      assert.equal((await pier(["image", "inspect", ref])).code, 1);
      assert.deepEqual(blobs(), gone, "no blob stored from the corrupt pull");
      assert.ok(before.length >= gone.length);
    });
  },
);
