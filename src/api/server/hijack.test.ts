import assert from "node:assert/strict";
import { Duplex, PassThrough } from "node:stream";
import { test } from "node:test";
import { Hijacked, MuxDecoder, muxFrame, readUpgradeBody } from "./hijack.ts";

/** A fake socket: what the server writes lands in `written`; `peer` feeds the server's reads. */
function fakeSocket(): { socket: Duplex; written: () => Buffer; peer: PassThrough } {
  const peer = new PassThrough();
  const chunks: Buffer[] = [];
  const socket = new Duplex({
    allowHalfOpen: true,
    read() {},
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  peer.on("data", (c: Buffer) => socket.push(c));
  peer.on("end", () => socket.push(null));
  return { socket, written: () => Buffer.concat(chunks), peer };
}

test("muxFrame and MuxDecoder round-trip, split across chunks", () => {
  const a = muxFrame(1, Buffer.from("hello"));
  assert.deepEqual([...a.subarray(0, 8)], [1, 0, 0, 0, 0, 0, 0, 5]);
  const b = muxFrame(2, Buffer.from("err!"));
  const all = Buffer.concat([a, b]);
  const dec = new MuxDecoder();
  const frames = [
    ...dec.push(all.subarray(0, 6)),
    ...dec.push(all.subarray(6, 15)),
    ...dec.push(all.subarray(15)),
  ];
  assert.deepEqual(
    frames.map((f) => [f.stream, f.payload.toString()]),
    [
      [1, "hello"],
      [2, "err!"],
    ],
  );
});

test("accept writes 101 UPGRADED; output is framed without a TTY and keeps flowing after the peer half-closes", async () => {
  const { socket, written, peer } = fakeSocket();
  const h = Hijacked.accept(socket, true);
  peer.end(); // the client has no stdin: it shuts down its write side at once
  await new Promise((r) => setImmediate(r));
  h.stdout(Buffer.from("out"));
  h.stderr(Buffer.from("err"));
  h.close();
  const text = written().toString("latin1");
  const headEnd = text.indexOf("\r\n\r\n") + 4;
  assert.match(text.slice(0, headEnd), /^HTTP\/1\.1 101 UPGRADED\r\n/);
  assert.match(text.slice(0, headEnd), /Content-Type: application\/vnd\.docker\.multiplexed-stream\r\n/);
  assert.match(text.slice(0, headEnd), /Upgrade: tcp\r\n/);
  const frames = new MuxDecoder().push(written().subarray(headEnd));
  assert.deepEqual(
    frames.map((f) => [f.stream, f.payload.toString()]),
    [
      [1, "out"],
      [2, "err"],
    ],
  );
});

test("with a TTY output is raw", () => {
  const { socket, written } = fakeSocket();
  const h = Hijacked.accept(socket, false);
  h.stdout(Buffer.from("raw bytes"));
  assert.ok(written().toString().endsWith("\r\n\r\nraw bytes"));
  assert.match(written().toString(), /vnd\.docker\.raw-stream/);
});

test("readUpgradeBody takes the JSON body ahead of stdin and leaves stdin to read", async () => {
  const { socket, peer } = fakeSocket();
  const body = JSON.stringify({ Detach: false, Tty: true });
  const head = Buffer.from(body.slice(0, 5));
  const read = readUpgradeBody(socket, head, Buffer.byteLength(body));
  peer.write(body.slice(5) + "ls\r");
  const got = await read;
  assert.deepEqual(JSON.parse(got.toString()), { Detach: false, Tty: true });
  const stdin = await new Promise<Buffer>((resolve) => {
    socket.once("data", resolve);
    socket.resume();
  });
  assert.equal(stdin.toString(), "ls\r");
});
