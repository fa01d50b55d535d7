// `pier build` through pierd with the seeds' hello app on busybox: it builds, runs with -p and
// answers; every instruction is a history entry (config-only ones empty); the cache (all
// cached with the same ID, mtimes ignored, one changed file rebuilds from its COPY on,
// --no-cache); docker's legacy builder against pierd; -q, --progress plain, stdin contexts.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { REPO } from "../../helpers/bundle.ts";
import { PIER, PierdRun } from "../../helpers/pierd.ts";
import { freePort, httpGet } from "../../helpers/net.ts";

const HELLO_CGI = `#!/bin/sh
printf "Content-Type: text/plain\\r\\n\\r\\n"
echo "Hello $NAME! I am $(hostname)"
`;

const DOCKERFILE = `# The seeds' hello app, on busybox: httpd serves a CGI script.
FROM busybox
COPY www /www
RUN chmod +x /www/cgi-bin/hello
ENV NAME=World
EXPOSE 80
CMD ["httpd", "-f", "-p", "80", "-h", "/www"]
`;

type Run = { status: number | null; stdout: string; stderr: string };
const ok = (r: Run, what: string) => assert.equal(r.status, 0, `${what}: ${r.stderr}${r.stdout}`);

/** The image ID a classic build printed ("Successfully built <12 hex>"). */
const builtId = (out: string) => /Successfully built ([0-9a-f]{12})/.exec(out)?.[1];

describe("pier build: the seeds' hello app on busybox", () => {
  let d: PierdRun;
  let app: string;
  const pier = (args: string[], input?: string | Buffer): Run =>
    spawnSync(PIER, ["-H", `unix://${d.sock}`, ...args], {
      env: d.env,
      encoding: "utf8",
      timeout: 120_000,
      ...(input !== undefined ? { input } : {}),
    });

  /** A container's output, read from its log once it exited (never raced by an attach). */
  const output = (...args: string[]): Run => {
    const c = pier(["run", "-d", "--network", "none", ...args]);
    if (c.status !== 0) return c;
    const id = c.stdout.trim();
    const w = pier(["wait", id]);
    const logs = pier(["logs", id]);
    pier(["rm", "-f", id]);
    return { status: Number(w.stdout.trim()), stdout: logs.stdout, stderr: logs.stderr };
  };

  before(async () => {
    d = await PierdRun.start();
    app = join(d.dir, "hello");
    mkdirSync(join(app, "www/cgi-bin"), { recursive: true });
    writeFileSync(join(app, "Dockerfile"), DOCKERFILE);
    writeFileSync(join(app, "www/cgi-bin/hello"), HELLO_CGI);
    writeFileSync(join(app, "www/index.html"), "<h1>hello</h1>\n");
  });
  after(async () => {
    await d?.teardown();
  });

  test("builds, runs with -p HOSTPORT:80 and answers Hello World with its hostname", async () => {
    const r = pier(["build", "-t", "hello:1", app]);
    ok(r, "build");
    // Each step, with its time; RUN in a container that is removed afterwards.
    for (let i = 1; i <= 6; i++) assert.match(r.stdout, new RegExp(`^Step ${i}/6 : `, "m"));
    assert.match(r.stdout, /^ ---> Running in [0-9a-f]{12}$/m);
    assert.match(r.stdout, /^Removing intermediate container [0-9a-f]{12}$/m);
    assert.match(r.stdout, /^ ---> [0-9a-f]{12} \(\d+\.\d\ds\)$/m);
    assert.match(r.stdout, /^Successfully tagged hello:1$/m);
    assert.equal(d.docker("ps", "-aq").stdout, "", "no build container is left");

    const port = await freePort();
    ok(pier(["run", "-d", "--name", "web", "-p", `${port}:80`, "hello:1"]), "run");
    try {
      const id = d.docker("inspect", "-f", "{{.Id}}", "web").stdout.trim();
      let body = "";
      for (let i = 0; i < 50 && !body; i++) {
        body = await httpGet(`http://127.0.0.1:${port}/cgi-bin/hello`).catch(() => "");
        if (!body) await new Promise((res) => setTimeout(res, 100));
      }
      assert.equal(body, `Hello World! I am ${id.slice(0, 12)}\n`);
    } finally {
      d.docker("rm", "-f", "web");
    }
  });

  test("the demo's app (examples/hello: ADD . with a .dockerignore) builds, runs and answers at /", async () => {
    const dir = join(REPO, "examples/hello");
    const r = pier(["build", "-t", "hello-demo", dir]);
    ok(r, "build examples/hello");
    const ls = output("hello-demo", "ls", "-A", "/app");
    assert.equal(
      ls.stdout,
      ".dockerignore\ncgi-bin\n",
      "app.sh moved away; .dockerignore kept the Dockerfile out",
    );
    const port = await freePort();
    ok(pier(["run", "-d", "--name", "demo", "-p", `${port}:80`, "hello-demo"]), "run");
    try {
      const id = d.docker("inspect", "-f", "{{.Id}}", "demo").stdout.trim();
      let body = "";
      for (let i = 0; i < 50 && !body; i++) {
        body = await httpGet(`http://127.0.0.1:${port}/`).catch(() => "");
        if (!body) await new Promise((res) => setTimeout(res, 100));
      }
      assert.match(body, /<h3>Hello World!<\/h3>/);
      assert.ok(body.includes(id.slice(0, 12)), body);
    } finally {
      d.docker("rm", "-f", "demo");
    }
  });

  test("each instruction is a history entry; the config-only ones are empty layers", () => {
    const h = pier(["history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Size}}", "hello:1"]);
    ok(h, "history");
    const rows = h.stdout.trim().split("\n");
    assert.equal(rows.length, 6, h.stdout); // five instructions over busybox's one layer
    assert.match(rows[0]!, /^CMD \["httpd","-f","-p","80","-h","\/www"\]\|0B$/);
    assert.match(rows[1]!, /^EXPOSE 80\/tcp\|0B$/);
    assert.match(rows[2]!, /^ENV NAME=World\|0B$/);
    assert.match(rows[3]!, /^RUN \/bin\/sh -c chmod \+x \/www\/cgi-bin\/hello\|[1-9][\d.]*k?B$/);
    assert.match(rows[4]!, /^COPY www \/www\|[1-9][\d.]*k?B$/);
    assert.match(rows[5]!, /pier image bootstrap busybox/);
    // docker sees the same.
    const dh = d.docker("history", "--format", "{{.CreatedBy}}", "--no-trunc", "hello:1");
    ok(dh, "docker history");
    assert.equal(dh.stdout.trim().split("\n").length, 6);
    // Two layers more than busybox, not five.
    const layers = (ref: string) =>
      (JSON.parse(d.docker("inspect", "-f", "{{json .RootFS.Layers}}", ref).stdout) as string[]).length;
    assert.equal(layers("hello:1"), layers("busybox") + 2);
    const cfg = JSON.parse(d.docker("inspect", "-f", "{{json .Config}}", "hello:1").stdout) as {
      Env: string[];
      Cmd: string[];
      ExposedPorts: Record<string, unknown>;
    };
    assert.ok(cfg.Env.includes("NAME=World"));
    assert.deepEqual(cfg.Cmd, ["httpd", "-f", "-p", "80", "-h", "/www"]);
    assert.deepEqual(Object.keys(cfg.ExposedPorts), ["80/tcp"]);
  });

  test("a second build takes every step from the cache and gives the identical image ID", () => {
    const first = d.docker("inspect", "-f", "{{.Id}}", "hello:1").stdout.trim();
    const r = pier(["build", "-t", "hello:2", app]);
    ok(r, "build");
    assert.equal(r.stdout.match(/^ ---> Using cache$/gm)?.length, 5, r.stdout);
    assert.doesNotMatch(r.stdout, /Running in/);
    assert.equal(d.docker("inspect", "-f", "{{.Id}}", "hello:2").stdout.trim(), first);
  });

  test("touching a file keeps the cache; changing one copied file rebuilds from that COPY on", () => {
    const first = d.docker("inspect", "-f", "{{.Id}}", "hello:1").stdout.trim();
    const later = Date.now() / 1000 + 3600;
    utimesSync(join(app, "www/index.html"), later, later);
    const touched = pier(["build", "-t", "hello:touched", app]);
    ok(touched, "build after touch");
    assert.equal(touched.stdout.match(/Using cache/g)?.length, 5, touched.stdout);
    assert.equal(d.docker("inspect", "-f", "{{.Id}}", "hello:touched").stdout.trim(), first);

    writeFileSync(join(app, "www/index.html"), "<h1>hello again</h1>\n");
    const changed = pier(["build", "-t", "hello:changed", app]);
    ok(changed, "build after change");
    assert.doesNotMatch(changed.stdout, /Using cache/, "COPY is step 2: everything after FROM runs again");
    assert.match(changed.stdout, /Running in/);
    assert.notEqual(d.docker("inspect", "-f", "{{.Id}}", "hello:changed").stdout.trim(), first);
    // Only files the build copies count: a file outside every COPY changes nothing.
    writeFileSync(join(app, "NOTES"), "not copied\n");
    const notes = pier(["build", "-q", app]);
    ok(notes, "build with an extra file");
    assert.equal(notes.stdout.trim(), d.docker("inspect", "-f", "{{.Id}}", "hello:changed").stdout.trim());
    writeFileSync(join(app, "www/index.html"), "<h1>hello</h1>\n");
  });

  test("--no-cache runs every step again; with normalized times the ID is the same", () => {
    const first = d.docker("inspect", "-f", "{{.Id}}", "hello:1").stdout.trim();
    const r = pier(["build", "--no-cache", "-t", "hello:fresh", app]);
    ok(r, "build --no-cache");
    assert.doesNotMatch(r.stdout, /Using cache/);
    assert.match(r.stdout, /Running in/);
    assert.equal(d.docker("inspect", "-f", "{{.Id}}", "hello:fresh").stdout.trim(), first);
    // SOURCE_DATE_EPOCH is honoured: another epoch, another (repeatable) image.
    const e1 = pier(["build", "-q", "--build-arg", "SOURCE_DATE_EPOCH=1700000000", app]);
    ok(e1, "build with SOURCE_DATE_EPOCH");
    const id1 = e1.stdout.trim();
    assert.notEqual(id1, first);
    assert.equal(d.docker("inspect", "-f", "{{.Created}}", id1).stdout.trim(), "2023-11-14T22:13:20.000Z");
    const e2 = pier(["build", "-q", "--no-cache", "--build-arg", "SOURCE_DATE_EPOCH=1700000000", app]);
    assert.equal(e2.stdout.trim(), id1);
  });

  test("docker build (the legacy builder, DOCKER_BUILDKIT=0) against pierd builds and tags", () => {
    const r = spawnSync("docker", ["build", "-t", "hello:docker", app], {
      env: { ...d.env, DOCKER_BUILDKIT: "0" },
      encoding: "utf8",
      timeout: 120_000,
    });
    ok(r, "docker build");
    assert.match(r.stdout, /^Step 1\/6 : FROM busybox$/m);
    assert.match(r.stdout, /^Successfully tagged hello:docker$/m);
    const id = d.docker("inspect", "-f", "{{.Id}}", "hello:docker").stdout.trim();
    assert.equal(id, d.docker("inspect", "-f", "{{.Id}}", "hello:1").stdout.trim());
    assert.equal(builtId(r.stdout), id.slice(7, 19));
    // Plain `docker build` falls back to the same legacy path (no buildx here).
    const plain = spawnSync("docker", ["build", "-q", app], {
      env: d.env,
      encoding: "utf8",
      timeout: 120_000,
    });
    ok(plain, "docker build -q");
    assert.equal(plain.stdout.trim(), id);
  });

  test("-q prints only the ID; --iidfile; --progress plain numbers each step", () => {
    const iid = join(d.dir, "iid");
    const q = pier(["build", "-q", "--iidfile", iid, app]);
    ok(q, "build -q");
    assert.match(q.stdout, /^sha256:[0-9a-f]{64}\n$/);
    assert.equal(readFileSync(iid, "utf8"), q.stdout.trim());
    const p = pier(["build", "--progress", "plain", "--no-cache", app]);
    ok(p, "build --progress plain");
    assert.match(p.stdout, /^#1 \[stage-0 1\/6\] FROM busybox$/m);
    assert.match(p.stdout, /^#3 \[stage-0 3\/6\] RUN chmod \+x \/www\/cgi-bin\/hello$/m);
    assert.match(p.stdout, /^#3 DONE \d+\.\ds$/m);
    assert.match(p.stdout, /^#\d+ writing image sha256:[0-9a-f]{64} done$/m);
  });

  test("contexts on stdin: a Dockerfile alone (-), and a tar", () => {
    const alone = pier(
      ["build", "-t", "alone", "-"],
      'FROM busybox\nRUN echo "made without a context" > /made\nCMD ["cat", "/made"]\n',
    );
    ok(alone, "build - < Dockerfile");
    assert.equal(output("alone").stdout, "made without a context\n");
    const tar = spawnSync("tar", ["-C", app, "-cf", "-", "."], { maxBuffer: 64 << 20 });
    assert.equal(tar.status, 0);
    const fromTar = spawnSync(PIER, ["-H", `unix://${d.sock}`, "build", "-q", "-"], {
      env: d.env,
      input: tar.stdout,
      encoding: "utf8",
      timeout: 120_000,
    });
    ok(fromTar, "build - < context.tar");
    assert.equal(fromTar.stdout.trim(), d.docker("inspect", "-f", "{{.Id}}", "hello:1").stdout.trim());
    // -f with a Dockerfile outside the context.
    const other = join(d.dir, "Other.dockerfile");
    writeFileSync(other, "FROM busybox\nCOPY www/index.html /index.html\n");
    const f = pier(["build", "-q", "-f", other, app]);
    ok(f, "build -f outside the context");
  });
});
