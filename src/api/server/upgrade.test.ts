// Hijack plumbing over a real unix socket: 101 on `Upgrade: tcp`, output after the
// client's half-close, the exec-start body ahead of stdin, refusals as plain HTTP.
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, test } from "node:test";
import { startTestDaemon, type TestDaemon } from "../testing.ts";
import { Hijacked, MuxDecoder, readUpgradeBody } from "./hijack.ts";

let d: TestDaemon;
before(async () => {
  d = await startTestDaemon();
  d.server.upgrade("POST", "/containers/{id}/attach", (ctx) => {
    const h = Hijacked.accept(ctx.socket, true, ctx.head);
    // Like a container that prints only after the client has half-closed (no stdin).
    ctx.socket.on("end", () => {
      h.stdout(Buffer.from(`hello from ${ctx.params.id ?? ""}\n`));
      h.stderr(Buffer.from("warn\n"));
      h.close();
    });
    ctx.socket.resume();
  });
  d.server.upgrade("POST", "/exec/{id}/start", async (ctx) => {
    const len = Number(ctx.req.headers["content-length"] ?? 0);
    const body = JSON.parse((await readUpgradeBody(ctx.socket, ctx.head, len)).toString()) as {
      Tty: boolean;
    };
    const h = Hijacked.accept(ctx.socket, !body.Tty);
    ctx.socket.once("data", (c: Buffer) => {
      h.stdout(Buffer.from(`echo:${c.toString()}`));
      h.close();
    });
    ctx.socket.resume();
  });
});
after(async () => {
  await d.close();
});

function exchange(request: string, then: "half-close" | string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect(d.socketPath);
    const chunks: Buffer[] = [];
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("end", () => {
      s.destroy();
      resolve(Buffer.concat(chunks));
    });
    s.on("error", reject);
    s.write(request);
    if (then === "half-close") s.end();
    else s.write(then);
  });
}

const headers = (path: string, extra = "") =>
  `POST ${path} HTTP/1.1\r\nHost: api.moby.localhost\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n${extra}\r\n`;

test("attach: 101 UPGRADED, then multiplexed output after the client's FIN", async () => {
  const out = await exchange(headers("/v1.43/containers/c1/attach?stdout=1&stderr=1&stream=1"), "half-close");
  const sep = out.indexOf("\r\n\r\n");
  assert.match(out.subarray(0, sep).toString(), /^HTTP\/1\.1 101 UPGRADED\r\n/);
  const frames = new MuxDecoder().push(out.subarray(sep + 4));
  assert.deepEqual(
    frames.map((f) => [f.stream, f.payload.toString()]),
    [
      [1, "hello from c1\n"],
      [2, "warn\n"],
    ],
  );
});

test("exec start: the JSON body is read ahead of stdin; a TTY stream is raw", async () => {
  const body = JSON.stringify({ Detach: false, Tty: true });
  const req = headers(
    "/v1.43/exec/e1/start",
    `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`,
  );
  const out = await exchange(req + body, "ls\r");
  const text = out.toString();
  assert.match(text, /^HTTP\/1\.1 101 UPGRADED\r\n/);
  assert.ok(text.endsWith("\r\n\r\necho:ls\r"), JSON.stringify(text));
});

test("an upgrade to an unknown route is a plain JSON 404", async () => {
  const out = (await exchange(headers("/v1.43/nothing/attach"), "half-close")).toString();
  assert.match(out, /^HTTP\/1\.1 404 Not Found\r\n/);
  assert.match(out, /\{"message":"page not found"\}/);
});
