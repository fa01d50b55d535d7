// `pier run` / `pier exec` flows against a stub daemon: attach → wait (its headers) →
// start, in that order even when wait's headers are slow; the TTY session (raw mode,
// resize now and on SIGWINCH, kill?signal=WINCH, keystrokes raw, terminal restored);
// detaching; -d; pulling a missing image; the exit codes docker gives.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterEach, beforeEach, describe, test } from "node:test";
import { STUB_EXEC_ID, STUB_ID, StubDaemon } from "../testing/stub-daemon.ts";
import { pier } from "../testing/run-pier.ts";
import type { Terminal } from "../terminal.ts";

async function until(pred: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A terminal whose size the test sets and whose resize and raw mode it watches. */
function fakeTerminal() {
  const t = {
    rows: 30,
    cols: 100,
    events: [] as string[],
    resize: undefined as (() => void) | undefined,
    terminal: undefined as unknown as Terminal,
  };
  t.terminal = {
    size: () => [t.rows, t.cols],
    makeRaw: () => {
      t.events.push("raw");
      return () => t.events.push("restored");
    },
    onResize: (cb) => {
      t.resize = cb;
      return () => (t.resize = undefined);
    },
  };
  return t;
}

function fakeSignals() {
  const s = { cb: undefined as ((sig: NodeJS.Signals) => void) | undefined, subscribed: [] as string[] };
  return {
    s,
    source: (sigs: NodeJS.Signals[], cb: (sig: NodeJS.Signals) => void) => {
      s.subscribed = sigs;
      s.cb = cb;
      return () => (s.cb = undefined);
    },
  };
}

/** Echoes stdin back raw (a TTY echoes) and ends when it sees "exit\r". */
function echoTty(stub: StubDaemon) {
  stub.onHijack((_r, socket, log) => {
    let seen = "";
    socket.on("data", (d: Buffer) => {
      seen += d.toString("latin1");
      log(`stdin ${JSON.stringify(d.toString("latin1"))}`);
      socket.write(d);
      if (seen.includes("exit\r")) socket.end();
    });
    socket.on("error", () => {});
  });
}

describe("pier run", () => {
  let stub: StubDaemon;
  beforeEach(async () => {
    stub = await StubDaemon.start();
  });
  afterEach(async () => {
    await stub.close();
  });
  const path = (p: string) => p.replace("ID", STUB_ID);

  test("attach, then wait until its headers arrive, then start; exit with wait's status", async () => {
    stub.route("POST", /\/wait$/, (_r, res) => {
      setTimeout(() => {
        res.writeHead(200);
        res.flushHeaders();
        stub.log.push("wait headers sent");
        setTimeout(() => res.end('{"StatusCode":7,"Error":null}'), 150);
      }, 150);
    });
    const r = await pier(stub.socketPath, ["run", "--rm", "busybox", "echo", "hi"]);
    assert.equal(r.code, 7, r.stderr);
    assert.equal(r.stdout, "hi\n");
    const log = stub.log.filter((l) => !l.startsWith("HEAD /_ping") && l !== "half-close");
    assert.deepEqual(log, [
      "POST /containers/create",
      path("POST /containers/ID/attach [upgrade]"),
      path("POST /containers/ID/wait"),
      "wait headers sent",
      path("POST /containers/ID/start"),
    ]);
    assert.equal(stub.requests.find((q) => q.path.endsWith("/wait"))?.query.get("condition"), "removed");
  });

  test("-it: raw terminal, ConsoleSize, resize at start and on SIGWINCH, kill?signal=WINCH, keys raw", async () => {
    echoTty(stub);
    const term = fakeTerminal();
    const sig = fakeSignals();
    const stdin = new PassThrough();
    const run = pier(stub.socketPath, ["run", "-it", "busybox", "sh"], {
      stdin,
      stdinIsTTY: true,
      stdoutIsTTY: true,
      terminal: term.terminal,
      signals: sig.source,
    });
    await until(() => stub.log.some((l) => l.endsWith("/resize")), "the first resize");
    const first = stub.requests.find((q) => q.path.endsWith("/resize"))!;
    assert.equal(first.query.toString(), "h=30&w=100");
    // The terminal changes size: a resize, and (signal proxy) the WINCH itself.
    term.rows = 40;
    term.cols = 120;
    term.resize!();
    sig.s.cb!("SIGWINCH");
    await until(() => stub.requests.some((q) => q.path.endsWith("/kill")), "kill?signal=WINCH");
    stdin.write("ls\r");
    stdin.write("exit\r");
    const r = await run;
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, "ls\rexit\r");
    assert.deepEqual(term.events, ["raw", "restored"]);
    const create = JSON.parse(stub.requests.find((q) => q.path === "/containers/create")!.body);
    assert.equal(create.Tty, true);
    assert.equal(create.OpenStdin, true);
    assert.equal(create.StdinOnce, true);
    assert.deepEqual(create.HostConfig.ConsoleSize, [30, 100]);
    const attach = stub.requests.find((q) => q.upgrade)!;
    assert.equal(attach.query.toString(), "stderr=1&stdin=1&stdout=1&stream=1");
    const resizes = stub.requests.filter((q) => q.path.endsWith("/resize")).map((q) => q.query.toString());
    assert.deepEqual(resizes, ["h=30&w=100", "h=40&w=120"]);
    assert.equal(stub.requests.find((q) => q.path.endsWith("/kill"))!.query.toString(), "signal=WINCH");
    // resize only after start
    const names = stub.log.filter((l) => !l.startsWith("stdin") && !l.startsWith("HEAD"));
    assert.ok(
      names.indexOf(path("POST /containers/ID/start")) < names.indexOf(path("POST /containers/ID/resize")),
    );
  });

  test("-it: ctrl-p ctrl-q detaches (exit 0), and the keys never reach the container", async () => {
    echoTty(stub);
    stub.route("POST", /\/wait$/, (_r, res) => {
      res.writeHead(200);
      res.flushHeaders();
    }); // never answers: the container keeps running
    const term = fakeTerminal();
    const stdin = new PassThrough();
    const run = pier(stub.socketPath, ["run", "-it", "busybox", "sh"], {
      stdin,
      stdinIsTTY: true,
      stdoutIsTTY: true,
      terminal: term.terminal,
    });
    await until(() => stub.log.some((l) => l.endsWith("/start")), "start");
    stdin.write("a");
    stdin.write("\x10");
    stdin.write("\x11");
    const r = await run;
    assert.equal(r.code, 0);
    await until(() => stub.log.includes('stdin "a"'), "the typed key");
    assert.deepEqual(
      stub.log.filter((l) => l.startsWith("stdin")),
      ['stdin "a"'],
    );
    assert.deepEqual(term.events, ["raw", "restored"]);
  });

  test("-d prints the id; wait is still sent before start", async () => {
    const r = await pier(stub.socketPath, ["run", "-d", "busybox"]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `${STUB_ID}\n`);
    assert.deepEqual(
      stub.log.filter((l) => l.startsWith("POST")),
      ["POST /containers/create", path("POST /containers/ID/wait"), path("POST /containers/ID/start")],
    );
  });

  test("a missing image is pulled, with docker's message, then created again", async () => {
    let creates = 0;
    stub.route("POST", /^\/containers\/create$/, (_r, res) => {
      creates++;
      res.statusCode = creates === 1 ? 404 : 201;
      res.end(
        JSON.stringify(
          creates === 1
            ? { message: "No such image: busybox:latest" }
            : { Id: STUB_ID, Warnings: ["careful"] },
        ),
      );
    });
    stub.route("POST", /^\/images\/create$/, (_r, res) => {
      res.write('{"status":"Pulling from library/busybox","id":"latest"}\r\n');
      res.write('{"status":"Pull complete","progressDetail":{},"id":"abc"}\r\n');
      res.end('{"status":"Status: Downloaded newer image for busybox:latest"}\r\n');
    });
    const r = await pier(stub.socketPath, ["run", "busybox"]);
    assert.equal(r.code, 3, r.stderr);
    assert.equal(
      r.stderr,
      "Unable to find image 'busybox:latest' locally\nlatest: Pulling from library/busybox\nabc: Pull complete\n" +
        "Status: Downloaded newer image for busybox:latest\nWARNING: careful\n",
    );
    const pull = stub.requests.find((q) => q.path === "/images/create")!;
    assert.equal(pull.query.toString(), "fromImage=docker.io%2Flibrary%2Fbusybox&tag=latest");
    assert.equal(pull.headers["x-registry-auth"], "e30=");
    assert.equal(creates, 2);
  });

  test("--pull never: a missing image is an error (125), nothing pulled", async () => {
    stub.route("POST", /^\/containers\/create$/, (_r, res) => {
      res.statusCode = 404;
      res.end('{"message":"No such image: busybox:latest"}');
    });
    const r = await pier(stub.socketPath, ["run", "--pull", "never", "busybox"]);
    assert.equal(r.code, 125);
    assert.equal(r.stderr, "Error response from daemon: No such image: busybox:latest\n");
    assert.ok(!stub.requests.some((q) => q.path === "/images/create"));
  });

  for (const [message, code] of [
    ['failed to create task: exec: "nope": executable file not found in $PATH', 127],
    ["exec /etc: permission denied", 126],
    ["cgroup: no space left", 125],
  ] as const) {
    test(`start failing with "${message}" exits ${code}`, async () => {
      stub.route("POST", /\/start$/, (_r, res) => {
        res.statusCode = 400;
        res.end(JSON.stringify({ message }));
      });
      const r = await pier(stub.socketPath, ["run", "busybox", "nope"]);
      assert.equal(r.code, code);
      assert.equal(r.stderr, `Error response from daemon: ${message}\n`);
    });
  }

  test("a name in use: the daemon's message, exit 125", async () => {
    stub.route("POST", /^\/containers\/create$/, (_r, res) => {
      res.statusCode = 409;
      res.end('{"message":"Conflict. The container name \\"/web\\" is already in use"}');
    });
    const r = await pier(stub.socketPath, ["run", "--name", "web", "busybox"]);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /already in use/);
    // docker's create exits 1 for the same answer; only run uses 125.
    const c = await pier(stub.socketPath, ["create", "--name", "web", "busybox"]);
    assert.equal(c.code, 1);
    assert.equal(
      c.stderr,
      'Error response from daemon: Conflict. The container name "/web" is already in use\n',
    );
  });

  test("-it without a terminal on stdin: docker's error, nothing created", async () => {
    const r = await pier(stub.socketPath, ["run", "-it", "busybox"], { stdinIsTTY: false });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, "the input device is not a TTY\n");
    assert.ok(!stub.requests.some((q) => q.path === "/containers/create"));
  });

  test("bad flag values exit 125 with docker's message and send nothing", async () => {
    for (const args of [["-m", "12x"], ["-p", "abc"], ["--restart", "always", "--rm"], ["--bogus"]]) {
      const r = await pier(stub.socketPath, ["run", ...args, "busybox"]);
      assert.equal(r.code, 125, args.join(" "));
      assert.match(r.stderr, /\nSee 'pier run --help'\.\n$/);
    }
    assert.ok(!stub.requests.some((q) => q.path === "/containers/create"));
  });

  test("wait's error is reported with 125", async () => {
    stub.route("POST", /\/wait$/, (_r, res) => {
      res.writeHead(200);
      res.flushHeaders();
      setTimeout(() => res.end('{"StatusCode":0,"Error":{"Message":"monitor lost"}}'), 50);
    });
    const r = await pier(stub.socketPath, ["run", "busybox"]);
    assert.equal(r.code, 125);
    assert.equal(r.stderr, "monitor lost\n");
  });

  test("--cidfile gets the id", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pier-cid-"));
    try {
      const r = await pier(stub.socketPath, ["run", "-d", "--cidfile", join(dir, "cid"), "busybox"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(readFileSync(join(dir, "cid"), "utf8"), STUB_ID);
      const again = await pier(stub.socketPath, ["run", "-d", "--cidfile", join(dir, "cid"), "busybox"]);
      assert.equal(again.code, 125);
      assert.match(again.stderr, /container ID file found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("signals are proxied without a TTY, not with --sig-proxy=false", async () => {
    stub.route("POST", /\/wait$/, (_r, res) => {
      res.writeHead(200);
      res.flushHeaders();
      setTimeout(() => res.end('{"StatusCode":130}'), 200);
    });
    stub.onHijack((_r, socket) => setTimeout(() => socket.end(), 150));
    const sig = fakeSignals();
    const run = pier(stub.socketPath, ["run", "busybox", "sleep", "9"], { signals: sig.source });
    await until(() => sig.s.cb !== undefined, "the signal proxy");
    sig.s.cb!("SIGINT");
    assert.equal((await run).code, 130);
    await until(() => stub.requests.some((q) => q.path.endsWith("/kill")), "kill");
    assert.equal(stub.requests.find((q) => q.path.endsWith("/kill"))!.query.toString(), "signal=INT");

    const quiet = fakeSignals();
    await pier(stub.socketPath, ["run", "--sig-proxy=false", "busybox"], { signals: quiet.source });
    assert.equal(quiet.s.cb, undefined);
  });
});

describe("pier exec", () => {
  let stub: StubDaemon;
  beforeEach(async () => {
    stub = await StubDaemon.start();
  });
  afterEach(async () => {
    await stub.close();
  });

  test("-it: docker's bodies, resize, no kill, exit code from the exec", async () => {
    echoTty(stub);
    const term = fakeTerminal();
    const sig = fakeSignals();
    const stdin = new PassThrough();
    const run = pier(stub.socketPath, ["exec", "-it", "web", "sh"], {
      stdin,
      stdinIsTTY: true,
      stdoutIsTTY: true,
      terminal: term.terminal,
      signals: sig.source,
    });
    await until(() => stub.log.some((l) => l.endsWith("/resize")), "resize");
    stdin.write("exit\r");
    const r = await run;
    assert.equal(r.code, 4, r.stderr);
    assert.equal(r.stdout, "exit\r");
    const create = stub.requests.find((q) => q.path === "/containers/web/exec")!;
    assert.equal(
      create.body,
      '{"User":"","Privileged":false,"Tty":true,"ConsoleSize":[30,100],"AttachStdin":true,"AttachStderr":true,' +
        '"AttachStdout":true,"Detach":false,"DetachKeys":"","Env":null,"WorkingDir":"","Cmd":["sh"]}',
    );
    const start = stub.requests.find((q) => q.upgrade)!;
    assert.equal(start.path, `/exec/${STUB_EXEC_ID}/start`);
    assert.equal(start.body, '{"Detach":false,"Tty":true,"ConsoleSize":[30,100]}');
    assert.equal(stub.requests.find((q) => q.path.endsWith("/resize"))!.path, `/exec/${STUB_EXEC_ID}/resize`);
    assert.ok(!stub.requests.some((q) => q.path.endsWith("/kill")));
    assert.equal(sig.s.cb, undefined, "exec proxies no signals");
    assert.deepEqual(stub.log.filter((l) => l.startsWith("GET")).at(-1), `GET /exec/${STUB_EXEC_ID}/json`);
  });
});
