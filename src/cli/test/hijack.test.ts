// The hijacked-stream client against a stub daemon: raw (TTY) and multiplexed output, frames
// split across reads, stdin sent raw, the half-close when stdin ends (or at once when there
// is none) with output still read after it, exec start's body ahead of stdin, refusals,
// and the detach keys on a TTY.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, before, describe, test } from "node:test";
import { ApiClient, DaemonError, frame } from "../../api/client/index.ts";
import { detachKeyBytes, EscapeProxy } from "../detach-keys.ts";
import { pumpStreams } from "../hijack.ts";
import { StubDaemon } from "../testing/stub-daemon.ts";

function sinks() {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  return {
    out: (b: Buffer) => out.push(b),
    err: (b: Buffer) => err.push(b),
    text: () => ({ out: Buffer.concat(out).toString(), err: Buffer.concat(err).toString() }),
  };
}

describe("hijacked streams", () => {
  let stub: StubDaemon;
  let client: ApiClient;
  before(async () => {
    stub = await StubDaemon.start();
    client = new ApiClient({ socketPath: stub.socketPath });
  });
  after(async () => {
    client.close();
    await stub.close();
  });

  test("multiplexed output is split into stdout and stderr, even one byte at a time", async () => {
    stub.onHijack((_r, socket) => {
      const bytes = Buffer.concat([
        frame(1, Buffer.from("out1\n")),
        frame(2, Buffer.from("err\n")),
        frame(1, Buffer.from("out2\n")),
      ]);
      let i = 0;
      const tick = () => {
        if (i >= bytes.length) return void socket.end();
        socket.write(bytes.subarray(i, i + 1));
        i++;
        setImmediate(tick);
      };
      tick();
    });
    const conn = await client.containers.attach("web", { stdout: true, stderr: true });
    const s = sinks();
    assert.equal(await pumpStreams(conn, { tty: false, out: s.out, err: s.err }), "eof");
    assert.deepEqual(s.text(), { out: "out1\nout2\n", err: "err\n" });
  });

  test("a TTY stream is raw bytes, frames or not", async () => {
    stub.onHijack((_r, socket) => socket.end(Buffer.from([1, 0, 0, 0, 0, 0, 0, 2, 0x68, 0x69])));
    const conn = await client.containers.attach("web", { stdout: true });
    const s = sinks();
    await pumpStreams(conn, { tty: true, out: s.out, err: s.err });
    assert.deepEqual([...Buffer.from(s.text().out, "latin1")], [1, 0, 0, 0, 0, 0, 0, 2, 0x68, 0x69]);
  });

  test("without stdin we half-close at once, and still read what comes after", async () => {
    const events: string[] = [];
    stub.onHijack((_r, socket) => {
      socket.on("end", () => {
        events.push("fin");
        setTimeout(() => socket.end(frame(1, Buffer.from("after fin\n"))), 30);
      });
      socket.resume();
    });
    const conn = await client.containers.attach("web", { stdout: true });
    const s = sinks();
    await pumpStreams(conn, { tty: false, out: s.out, err: s.err });
    assert.deepEqual(events, ["fin"]);
    assert.equal(s.text().out, "after fin\n");
  });

  test("stdin goes raw; its end is a half-close; the daemon answers after it", async () => {
    stub.onHijack((_r, socket) => {
      let got = "";
      socket.on("data", (d: Buffer) => (got += d.toString()));
      socket.on("end", () => socket.end(frame(1, Buffer.from(`got ${JSON.stringify(got)}\n`))));
    });
    const conn = await client.containers.attach("web", { stdin: true, stdout: true });
    const stdin = new PassThrough();
    const s = sinks();
    const done = pumpStreams(conn, { tty: false, stdin, out: s.out, err: s.err });
    stdin.write("line 1\n");
    stdin.end("\x00\x01bin");
    await done;
    assert.equal(s.text().out, 'got "line 1\\n\\u0000\\u0001bin"\n');
  });

  test("exec start sends its JSON body ahead of stdin on the same connection", async () => {
    stub.onHijack((r, socket) => {
      let got = "";
      socket.on("data", (d: Buffer) => (got += d.toString()));
      socket.on("end", () => socket.end(frame(1, Buffer.from(`${r.body}|${got}`))));
    });
    const conn = await client.exec.startAttached("e1", { Detach: false, Tty: false });
    const stdin = new PassThrough();
    const s = sinks();
    const done = pumpStreams(conn, { tty: false, stdin, out: s.out, err: s.err });
    stdin.end("typed");
    await done;
    assert.equal(s.text().out, '{"Detach":false,"Tty":false}|typed');
    const req = stub.requests.at(-1)!;
    assert.equal(req.headers.upgrade, "tcp");
    assert.equal(req.headers.connection, "Upgrade");
    assert.equal(req.headers["content-type"], "application/json");
  });

  test("attach asks for text/plain with no body, and the query docker sends", async () => {
    stub.onHijack((_r, socket) => socket.end());
    const conn = await client.containers.attach("web", {
      stdin: true,
      stdout: true,
      stderr: true,
      detachKeys: "ctrl-a,b",
    });
    await pumpStreams(conn, { tty: false, out: () => {}, err: () => {} });
    const req = stub.requests.at(-1)!;
    assert.equal(req.headers["content-type"], "text/plain");
    assert.equal(
      req.url,
      "/v1.43/containers/web/attach?detachKeys=ctrl-a%2Cb&stderr=1&stdin=1&stdout=1&stream=1",
    );
  });

  test("on a TTY the detach keys end the session and are never sent", async () => {
    let received = "";
    stub.onHijack((_r, socket) => {
      socket.on("data", (d: Buffer) => (received += d.toString("latin1")));
      socket.on("error", () => {});
    });
    const conn = await client.containers.attach("web", { stdin: true, stdout: true });
    const stdin = new PassThrough();
    const s = sinks();
    const done = pumpStreams(conn, {
      tty: true,
      stdin,
      out: s.out,
      err: s.err,
      detachKeys: detachKeyBytes("ctrl-p,ctrl-q"),
    });
    stdin.write("ls\r");
    await new Promise((r) => setTimeout(r, 20));
    stdin.write("\x10");
    stdin.write("\x11");
    assert.equal(await done, "detached");
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(received, "ls\r");
  });

  describe("refusals", () => {
    let dir: string;
    let server: Server;
    let answer = "";
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), "pier-refuse-"));
      server = createServer((sock) => {
        sock.once("data", (d: Buffer) => {
          if (d.toString().startsWith("HEAD /_ping")) {
            sock.end("HTTP/1.1 200 OK\r\nApi-Version: 1.43\r\nContent-Length: 0\r\n\r\n");
            return;
          }
          sock.end(answer);
        });
      });
      await new Promise<void>((r) => server.listen(join(dir, "s.sock"), r));
    });
    after(async () => {
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
    });

    test("an error answer is the daemon's error; a 200 is docker's 'unable to upgrade'", async () => {
      const c = new ApiClient({ socketPath: join(dir, "s.sock"), version: "1.43" });
      const body = '{"message":"container web is not running"}';
      answer = `HTTP/1.1 409 Conflict\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
      await assert.rejects(c.containers.attach("web", { stdout: true }), (e: unknown) => {
        assert.ok(e instanceof DaemonError);
        assert.equal(e.status, 409);
        assert.equal(e.message, "container web is not running");
        return true;
      });
      answer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
      await assert.rejects(
        c.containers.attach("web", { stdout: true }),
        /unable to upgrade to tcp, received 200/,
      );
      c.close();
    });
  });
});

describe("detach keys", () => {
  test("docker's key names", () => {
    assert.deepEqual([...detachKeyBytes("ctrl-p,ctrl-q")], [16, 17]);
    assert.deepEqual([...detachKeyBytes("ctrl-a,a,ctrl-@,ctrl-[,ctrl-_")], [1, 97, 0, 27, 31]);
    assert.throws(() => detachKeyBytes("ctrl-1"));
    assert.throws(() => detachKeyBytes("ab"));
  });

  test("a broken sequence is sent after all", () => {
    const p = new EscapeProxy(Buffer.from([16, 17]));
    assert.deepEqual(p.push(Buffer.from([16])), { pass: Buffer.alloc(0), detach: false });
    assert.deepEqual(p.push(Buffer.from("x")), { pass: Buffer.from([16, 0x78]), detach: false });
    assert.deepEqual(p.push(Buffer.from([16, 16, 17, 0x79])), { pass: Buffer.from([16]), detach: true });
  });
});
