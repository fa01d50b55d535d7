import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { PierError } from "../../common/errors.ts";
import { Digester, digestOf } from "../digest.ts";
import { chunk } from "./ingest-child.ts";
import { ContentStore } from "./store.ts";

const CHILD = join(import.meta.dirname, "ingest-child.ts");

function kindOf(err: unknown): string {
  return err instanceof PierError ? err.kind : `not a PierError: ${String(err)}`;
}

async function withStore(fn: (s: ContentStore, dir: string) => Promise<void>, opts = {}): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "pier-content-"));
  try {
    await fn(await ContentStore.open(dir, opts), dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function blobNames(dir: string): string[] {
  return readdirSync(join(dir, "blobs", "sha256"));
}

test("put, info, read, list, delete", () =>
  withStore(async (s) => {
    const data = Buffer.from("hello, pier\n");
    const d = await s.put(data);
    assert.equal(d.digest, digestOf(data));
    assert.equal(d.size, data.length);
    assert.equal((await s.info(d.digest)).size, data.length);
    assert.deepEqual(await s.read(d.digest), data);
    assert.deepEqual(
      (await s.list()).map((b) => b.digest),
      [d.digest],
    );
    // Putting the same content again is harmless.
    assert.deepEqual(await s.put(data), d);
    const chunks: Buffer[] = [];
    for await (const c of await s.reader(d.digest, { start: 7 })) chunks.push(c as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), "pier\n");
    await s.delete(d.digest);
    assert.equal(await s.has(d.digest), false);
    await assert.rejects(s.info(d.digest), (e) => kindOf(e) === "NotFound");
    await assert.rejects(s.delete(d.digest), (e) => kindOf(e) === "NotFound");
    assert.deepEqual(await s.listIngests(), []);
  }));

test("invalid and unsupported digests are refused", () =>
  withStore(async (s) => {
    assert.throws(
      () => s.blobPath("sha256:abc"),
      (e) => kindOf(e) === "InvalidArgument",
    );
    assert.throws(
      () => s.blobPath("sha256:../../etc/passwd"),
      (e) => kindOf(e) === "InvalidArgument",
    );
    assert.throws(
      () => s.blobPath("md5:d41d8cd98f00b204e9800998ecf8427e"),
      (e) => kindOf(e) === "NotImplemented",
    );
    const data = Buffer.from("x");
    const d = await s.put(data, { expected: digestOf(data, "sha512") });
    assert.equal(d.digest, digestOf(data, "sha512"));
    assert.deepEqual(await s.read(d.digest), data);
  }));

test("content with the wrong digest is refused and never stored", () =>
  withStore(async (s, dir) => {
    const good = Buffer.from("the real content");
    const bad = Buffer.from("tampered content");
    await assert.rejects(s.put(bad, { expected: digestOf(good) }), (e) => kindOf(e) === "InvalidArgument");
    assert.deepEqual(blobNames(dir), []);
    assert.deepEqual(await s.listIngests(), []);
    assert.equal(await s.has(digestOf(good)), false);
    assert.equal(await s.has(digestOf(bad)), false);
  }));

test("sizes: declared total and store limit are enforced", () =>
  withStore(
    async (s, dir) => {
      const w = await s.writer("short", { total: 10 });
      await w.write(Buffer.alloc(5));
      await assert.rejects(w.commit(), (e) => kindOf(e) === "InvalidArgument");
      const w2 = await s.writer("long", { total: 4 });
      await assert.rejects(w2.write(Buffer.alloc(5)), (e) => kindOf(e) === "InvalidArgument");
      await w2.abort();
      await assert.rejects(s.writer("huge", { total: 2000 }), (e) => kindOf(e) === "ResourceExhausted");
      await assert.rejects(
        s.ingest("huge2", [Buffer.alloc(600), Buffer.alloc(600)]),
        (e) => kindOf(e) === "ResourceExhausted",
      );
      await assert.rejects(s.read(digestOf("missing")), (e) => kindOf(e) === "NotFound");
      const d = await s.put(Buffer.alloc(100));
      await assert.rejects(s.read(d.digest, { maxSize: 10 }), (e) => kindOf(e) === "ResourceExhausted");
      assert.deepEqual(blobNames(dir), [d.digest.slice(7)]);
      assert.deepEqual(await s.listIngests(), []);
    },
    { maxBlobSize: 1000 },
  ));

test("an interrupted ingest resumes at its offset; a second writer is refused meanwhile", () =>
  withStore(async (s) => {
    const all = Buffer.concat([chunk(0), chunk(1), chunk(2)]);
    const w = await s.writer("resume-me", { expected: digestOf(all), total: all.length });
    await w.write(chunk(0));
    await assert.rejects(s.writer("resume-me"), (e) => kindOf(e) === "Unavailable");
    await assert.rejects(s.abort("resume-me"), (e) => kindOf(e) === "Unavailable");
    await w.close();
    const st = await s.status("resume-me");
    assert.equal(st.offset, chunk(0).length);
    assert.equal(st.locked, false);
    const w2 = await s.writer("resume-me", { expected: digestOf(all), total: all.length });
    assert.equal(w2.offset, chunk(0).length);
    await w2.write(chunk(1));
    await w2.write(chunk(2));
    const d = await w2.commit();
    assert.equal(d.digest, digestOf(all));
    await assert.rejects(s.status("resume-me"), (e) => kindOf(e) === "NotFound");
    // ingest() with an offset-aware source continues where the last attempt stopped.
    const w3 = await s.writer("again");
    await w3.write(Buffer.from("abc"));
    await w3.close();
    const d2 = await s.ingest("again", (offset) =>
      (async function* () {
        yield Buffer.from("abcdef".slice(offset));
      })(),
    );
    assert.equal(d2.digest, digestOf("abcdef"));
  }));

/** Runs the ingest child until it has written `n` chunks; returns it (still running). */
function startChild(root: string, ref: string, n: number, hangAfter: number) {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, root, ref, String(n)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const reached = new Promise<void>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes(`wrote ${hangAfter}\n`)) resolve();
    });
    child.on("exit", (code) => reject(new Error(`ingest child exited ${code}: ${stderr}`)));
  });
  return { child, reached };
}

test("killing a writer mid-ingest leaves no blob under a real name; the ingest resumes or is swept", () =>
  withStore(async (s, dir) => {
    const { child, reached } = startChild(dir, "killed", 8, 8);
    try {
      await reached;
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
    assert.deepEqual(blobNames(dir), []);
    const st = await s.status("killed");
    assert.equal(st.offset, 8 * 64 * 1024);
    assert.equal(st.locked, false, "a dead writer's lock is stale");

    // Resume: the new writer re-hashes the 8 chunks and continues.
    const full = new Digester();
    for (let i = 0; i < 10; i++) full.update(chunk(i));
    const w = await s.writer("killed");
    assert.equal(w.offset, 8 * 64 * 1024);
    await w.write(chunk(8));
    await w.write(chunk(9));
    const d = await w.commit();
    assert.equal(d.digest, full.digest());
    assert.deepEqual(blobNames(dir), [d.digest.slice(7)]);

    // A second killed ingest is swept by gc, not resumed.
    const second = startChild(dir, "swept", 3, 3);
    try {
      await second.reached;
      assert.deepEqual(await s.gcIngests(), [], "a live writer's ingest is kept");
      second.child.kill("SIGKILL");
      await new Promise((r) => second.child.once("exit", r));
    } finally {
      if (second.child.exitCode === null && second.child.signalCode === null) second.child.kill("SIGKILL");
    }
    assert.deepEqual(await s.gcIngests({ olderThanMs: 60_000 }), [], "recent ingests are kept");
    assert.deepEqual(await s.gcIngests(), ["swept"]);
    assert.deepEqual(await s.listIngests(), []);
    assert.deepEqual(readdirSync(join(dir, "ingest")), []);
    assert.deepEqual(blobNames(dir), [d.digest.slice(7)]);
  }));
