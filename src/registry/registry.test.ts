import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { PierError } from "../common/errors.ts";
import { ContentStore } from "../image/content/store.ts";
import { digestOf } from "../image/digest.ts";
import { MetadataStore } from "../image/store/metadata.ts";
import { RegistryClient, type ProgressEvent } from "./client/index.ts";
import { RegistryError } from "./errors.ts";
import { MEDIA, parseReference } from "./reference.ts";
import { serve, type AccessLogEntry, type RegistryServer, type ServeOptions } from "./server/index.ts";
import { errorCode, makeImage, makeIndex, raw, withTempDir } from "./testutil.ts";

function kindOf(err: unknown): string {
  return err instanceof PierError ? err.kind : `not a PierError: ${String(err)}`;
}

function codeOf(err: unknown): string | undefined {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof RegistryError && e.registryCode !== undefined) return e.registryCode;
  }
  return undefined;
}

/** Each server's root, so tests can look at its content store. */
const roots = new WeakMap<RegistryServer, string>();

interface Env {
  dir: string;
  server: RegistryServer;
  content: ContentStore;
  client: RegistryClient;
}

async function withRegistry(
  fn: (env: Env) => Promise<void>,
  opts: Omit<ServeOptions, "root"> = {},
  clientOpts: ConstructorParameters<typeof RegistryClient>[0] = {},
): Promise<void> {
  await withTempDir("pier-registry-", async (dir) => {
    const server = await serve({ root: join(dir, "server"), ...opts });
    roots.set(server, join(dir, "server"));
    const client = new RegistryClient(clientOpts);
    try {
      const content = await ContentStore.open(join(dir, "client"));
      await fn({ dir, server, content, client });
    } finally {
      client.close();
      await server.close();
    }
  });
}

test("reference parsing", () => {
  assert.deepEqual(parseReference("busybox"), {
    registry: "docker.io",
    repository: "library/busybox",
    tag: "latest",
  });
  assert.deepEqual(parseReference("127.0.0.1:5000/a/b:1.0"), {
    registry: "127.0.0.1:5000",
    repository: "a/b",
    tag: "1.0",
  });
  const d = digestOf("x");
  assert.deepEqual(parseReference(`localhost/x@${d}`), { registry: "localhost", repository: "x", digest: d });
  assert.throws(
    () => parseReference("127.0.0.1:5000/UPPER:1"),
    (e) => kindOf(e) === "InvalidArgument",
  );
});

test("push then pull back the same digests; existing blobs skipped; mount; index", () =>
  withRegistry(async ({ dir, server, content, client }) => {
    const img = await makeImage(content);
    const events: ProgressEvent[] = [];
    const pushed = await client.push(`${server.address}/app:1.0`, {
      content,
      digest: img.manifest.digest,
      onProgress: (e) => events.push(e),
    });
    assert.equal(pushed.digest, img.manifest.digest);
    assert.deepEqual(pushed.blobs.map((b) => b.action).sort(), ["uploaded", "uploaded", "uploaded"]);
    assert.ok(events.some((e) => e.status === "done" && e.digest === img.layers[0]!.digest));

    const again = await client.push(`${server.address}/app:1.0`, { content, digest: img.manifest.digest });
    assert.deepEqual(
      again.blobs.map((b) => b.action),
      ["exists", "exists", "exists"],
    );

    const mounted = await client.push(`${server.address}/other/app:2`, {
      content,
      digest: img.manifest.digest,
      mountFrom: ["app"],
    });
    assert.deepEqual(
      mounted.blobs.map((b) => b.action),
      ["mounted", "mounted", "mounted"],
    );

    // Pull into a fresh store, and record it in metadata.
    const fresh = await ContentStore.open(join(dir, "fresh"));
    const meta = MetadataStore.open(join(dir, "fresh", "meta.db"));
    try {
      const pulled = await client.pull(`${server.address}/other/app:2`, {
        content: fresh,
        meta,
        name: "app:2",
      });
      assert.equal(pulled.digest, img.manifest.digest);
      assert.equal(pulled.config.digest, img.config.digest);
      assert.deepEqual(
        pulled.layers.map((l) => l.digest),
        img.layers.map((l) => l.digest),
      );
      for (const d of [img.manifest, img.config, ...img.layers]) {
        assert.deepEqual(await fresh.read(d.digest), await content.read(d.digest));
      }
      assert.equal(meta.getImage("app:2").target.digest, img.manifest.digest);
      assert.deepEqual(meta.refsFrom("image:app:2"), [`blob:${img.manifest.digest}`]);
      const second = await client.pull(`${server.address}/other/app:2`, { content: fresh });
      assert.deepEqual(second.fetched, []);
      assert.equal(second.skipped.length, 3);
    } finally {
      meta.close();
    }

    // An index: linux/amd64 is chosen.
    const arm = await makeImage(content, { arch: "arm64", label: "arm" });
    const amd = await makeImage(content, { arch: "amd64", label: "amd" });
    const index = await makeIndex(content, [
      { image: arm, arch: "arm64" },
      { image: amd, arch: "amd64" },
    ]);
    await client.push(`${server.address}/multi:latest`, { content, digest: index.digest });
    const fresh2 = await ContentStore.open(join(dir, "fresh2"));
    const got = await client.pull(`${server.address}/multi`, { content: fresh2 });
    assert.equal(got.digest, index.digest);
    assert.equal(got.mediaType, MEDIA.ociIndex);
    assert.equal(got.manifest.digest, amd.manifest.digest);
    assert.equal(await fresh2.has(arm.config.digest), false);
    const armGot = await client.pull(`${server.address}/multi`, {
      content: fresh2,
      platform: { os: "linux", architecture: "arm64" },
    });
    assert.equal(armGot.manifest.digest, arm.manifest.digest);
    await assert.rejects(
      client.pull(`${server.address}/multi`, {
        content: fresh2,
        platform: { os: "linux", architecture: "s390x" },
      }),
      (e) => kindOf(e) === "NotFound",
    );
    await assert.rejects(
      client.pull(`${server.address}/nope:1`, { content: fresh2 }),
      (e) => kindOf(e) === "NotFound",
    );
  }));

test("chunked uploads: client chunks, out-of-order chunk is 416, status, wrong digest stores nothing", () =>
  withRegistry(async ({ server, content, client }) => {
    const big = randomBytes(300_000);
    const img = await makeImage(content, { layers: [{ "big.bin": big }] });
    const pushed = await client.push(`${server.address}/chunky:1`, {
      content,
      digest: img.manifest.digest,
      chunkSize: 64 * 1024,
    });
    assert.equal(pushed.digest, img.manifest.digest);
    const layer = await raw(`${server.url}/v2/chunky/blobs/${img.layers[0]!.digest}`, "GET");
    assert.equal(layer.status, 200);
    assert.equal(digestOf(layer.body), img.layers[0]!.digest);
    // Range requests.
    const part = await raw(`${server.url}/v2/chunky/blobs/${img.layers[0]!.digest}`, "GET", {
      headers: { Range: "bytes=10-19" },
    });
    assert.equal(part.status, 206);
    assert.deepEqual(part.body, layer.body.subarray(10, 20));
    assert.equal(part.headers["content-range"], `bytes 10-19/${layer.body.length}`);
    const bad = await raw(`${server.url}/v2/chunky/blobs/${img.layers[0]!.digest}`, "GET", {
      headers: { Range: `bytes=${layer.body.length + 5}-` },
    });
    assert.equal(bad.status, 416);

    // By hand: 416 on a chunk that does not continue the upload.
    const data = randomBytes(30);
    const start = await raw(`${server.url}/v2/chunky/blobs/uploads/`, "POST");
    assert.equal(start.status, 202);
    assert.ok(start.headers["docker-upload-uuid"]);
    const loc = `${server.url}${start.headers.location}`;
    const c1 = await raw(loc, "PATCH", {
      headers: { "Content-Range": "0-9", "Content-Type": "application/octet-stream" },
      body: data.subarray(0, 10),
    });
    assert.equal(c1.status, 202);
    assert.equal(c1.headers.range, "0-9");
    const c3 = await raw(loc, "PATCH", {
      headers: { "Content-Range": "20-29" },
      body: data.subarray(20, 30),
    });
    assert.equal(c3.status, 416);
    assert.equal(c3.headers.range, "0-9");
    const st = await raw(loc, "GET");
    assert.equal(st.status, 204);
    assert.equal(st.headers.range, "0-9");
    const c2 = await raw(loc, "PATCH", {
      headers: { "Content-Range": "10-19" },
      body: data.subarray(10, 20),
    });
    assert.equal(c2.status, 202);
    const wrong = digestOf("something else");
    const fin = await raw(`${loc}?digest=${wrong}`, "PUT", {
      headers: { "Content-Range": "20-29" },
      body: data.subarray(20, 30),
    });
    assert.equal(fin.status, 400);
    assert.equal(errorCode(fin), "DIGEST_INVALID");
    const blobs = await serverBlobs(server);
    assert.equal(blobs.has(digestOf(data)), false);
    assert.equal(blobs.has(wrong), false);
    assert.equal((await raw(loc, "GET")).status, 404);

    // Monolithic POST with a wrong digest stores nothing either; with the right one, 201.
    const mono = await raw(`${server.url}/v2/chunky/blobs/uploads/?digest=${wrong}`, "POST", { body: data });
    assert.equal(mono.status, 400);
    assert.equal(errorCode(mono), "DIGEST_INVALID");
    assert.equal((await serverBlobs(server)).has(digestOf(data)), false);
    const ok = await raw(`${server.url}/v2/chunky/blobs/uploads/?digest=${digestOf(data)}`, "POST", {
      body: data,
    });
    assert.equal(ok.status, 201);
    assert.equal(ok.headers["docker-content-digest"], digestOf(data));
    const head = await raw(`${server.url}/v2/chunky/blobs/${digestOf(data)}`, "HEAD");
    assert.equal(head.status, 200);
    assert.equal(head.headers["content-length"], "30");
    // Nothing left in flight on the server.
    const serverStore = await ContentStore.open(join(serverRoot(server)));
    assert.deepEqual(
      (await serverStore.listIngests()).map((i) => i.ref),
      [],
    );
  }));

function serverRoot(s: RegistryServer): string {
  return roots.get(s)!;
}
async function serverBlobs(s: RegistryServer): Promise<Set<string>> {
  const store = await ContentStore.open(serverRoot(s));
  return new Set((await store.list()).map((b) => b.digest));
}

test("manifests: missing blobs refused, wrong digest refused, bad names", () =>
  withRegistry(async ({ server, content, client }) => {
    const img = await makeImage(content);
    const body = await content.read(img.manifest.digest);
    const put = await raw(`${server.url}/v2/x/manifests/1`, "PUT", {
      headers: { "Content-Type": MEDIA.ociManifest },
      body,
    });
    assert.equal(put.status, 400);
    assert.equal(errorCode(put), "MANIFEST_BLOB_UNKNOWN");
    const other = await client.push(`${server.address}/x:1`, { content, digest: img.manifest.digest });
    assert.equal(other.digest, img.manifest.digest);
    const byWrongDigest = await raw(`${server.url}/v2/x/manifests/${digestOf("nope")}`, "PUT", {
      headers: { "Content-Type": MEDIA.ociManifest },
      body,
    });
    assert.equal(errorCode(byWrongDigest), "DIGEST_INVALID");
    const get = await raw(`${server.url}/v2/x/manifests/1`, "GET");
    assert.equal(get.status, 200);
    assert.equal(get.headers["content-type"], MEDIA.ociManifest);
    assert.equal(get.headers["docker-content-digest"], img.manifest.digest);
    const head = await raw(`${server.url}/v2/x/manifests/${img.manifest.digest}`, "HEAD");
    assert.equal(head.status, 200);
    assert.equal(head.headers["content-length"], String(body.length));
    const badName = await raw(`${server.url}/v2/Bad/tags/list`, "GET");
    assert.equal(badName.status, 400);
    assert.equal(errorCode(badName), "NAME_INVALID");
    const unknown = await raw(`${server.url}/v2/nothing/tags/list`, "GET");
    assert.equal(errorCode(unknown), "NAME_UNKNOWN");
    const base = await raw(`${server.url}/v2/`, "GET");
    assert.equal(base.status, 200);
    assert.equal(base.headers["docker-distribution-api-version"], "registry/2.0");
  }));

test("tags list paging with n/last and Link", () =>
  withRegistry(async ({ server, content, client }) => {
    const img = await makeImage(content);
    await client.push(`${server.address}/paged:t0`, { content, digest: img.manifest.digest });
    const body = await content.read(img.manifest.digest);
    for (const t of ["t3", "t1", "t4", "t2"]) {
      const r = await raw(`${server.url}/v2/paged/manifests/${t}`, "PUT", {
        headers: { "Content-Type": MEDIA.ociManifest },
        body,
      });
      assert.equal(r.status, 201);
    }
    const page = await raw(`${server.url}/v2/paged/tags/list?n=2`, "GET");
    assert.deepEqual(JSON.parse(page.body.toString()), { name: "paged", tags: ["t0", "t1"] });
    assert.equal(page.headers.link, '</v2/paged/tags/list?n=2&last=t1>; rel="next"');
    const p2 = await client.listTags(`${server.address}/paged`, { n: 2, last: "t1" });
    assert.deepEqual(p2, { tags: ["t2", "t3"], next: "t3" });
    const p3 = await client.listTags(`${server.address}/paged`, { n: 2, last: "t3" });
    assert.deepEqual(p3, { tags: ["t4"] });
    assert.deepEqual(await client.allTags(`${server.address}/paged`, 2), ["t0", "t1", "t2", "t3", "t4"]);
    assert.deepEqual((await client.listTags(`${server.address}/paged`)).tags.length, 5);
  }));

test("referrers with artifactType filtering", () =>
  withRegistry(async ({ server, content, client }) => {
    const img = await makeImage(content);
    await client.push(`${server.address}/ref:1`, { content, digest: img.manifest.digest });
    const empty = Buffer.from("{}");
    const emptyDesc = { mediaType: MEDIA.ociEmpty, digest: digestOf(empty), size: 2 };
    await raw(`${server.url}/v2/ref/blobs/uploads/?digest=${emptyDesc.digest}`, "POST", { body: empty });
    const digests: Record<string, string> = {};
    for (const type of ["application/vnd.example.sig", "application/vnd.example.sbom"]) {
      const m = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MEDIA.ociManifest,
          artifactType: type,
          config: emptyDesc,
          layers: [emptyDesc],
          subject: img.manifest,
          annotations: { "org.example.kind": type },
        }),
      );
      const d = digestOf(m);
      digests[type] = d;
      const r = await raw(`${server.url}/v2/ref/manifests/${d}`, "PUT", {
        headers: { "Content-Type": MEDIA.ociManifest },
        body: m,
      });
      assert.equal(r.status, 201);
      assert.equal(r.headers["oci-subject"], img.manifest.digest);
    }
    const all = await client.referrers(`${server.address}/ref@${img.manifest.digest}`);
    assert.equal(all.manifests.length, 2);
    assert.deepEqual(all.filtersApplied, []);
    const sig = await client.referrers(`${server.address}/ref@${img.manifest.digest}`, {
      artifactType: "application/vnd.example.sig",
    });
    assert.deepEqual(sig.filtersApplied, ["artifactType"]);
    assert.equal(sig.manifests.length, 1);
    assert.equal(sig.manifests[0]!.digest, digests["application/vnd.example.sig"]);
    assert.equal(sig.manifests[0]!.artifactType, "application/vnd.example.sig");
    assert.deepEqual(sig.manifests[0]!.annotations, { "org.example.kind": "application/vnd.example.sig" });
    const none = await raw(`${server.url}/v2/ref/referrers/${digestOf("unknown")}`, "GET");
    assert.equal(none.status, 200);
    assert.equal(none.headers["content-type"], MEDIA.ociIndex);
    assert.deepEqual(JSON.parse(none.body.toString()).manifests, []);
  }));

test("deletes: tag, manifest, blob; 405 UNSUPPORTED when disabled", async () => {
  await withRegistry(async ({ server, content, client }) => {
    const img = await makeImage(content);
    await client.push(`${server.address}/del:a`, { content, digest: img.manifest.digest });
    await client.push(`${server.address}/del:b`, { content, digest: img.manifest.digest });
    await client.deleteManifest(`${server.address}/del:a`);
    assert.deepEqual(await client.allTags(`${server.address}/del`), ["b"]);
    await assert.rejects(client.deleteManifest(`${server.address}/del:a`), (e) => kindOf(e) === "NotFound");
    await client.deleteManifest(`${server.address}/del@${img.manifest.digest}`);
    assert.deepEqual(await client.allTags(`${server.address}/del`), []);
    const gone = await raw(`${server.url}/v2/del/manifests/${img.manifest.digest}`, "GET");
    assert.equal(errorCode(gone), "MANIFEST_UNKNOWN");
    await client.deleteBlob(`${server.address}/del`, img.layers[0]!.digest);
    const head = await raw(`${server.url}/v2/del/blobs/${img.layers[0]!.digest}`, "HEAD");
    assert.equal(head.status, 404);
    assert.equal((await serverBlobs(server)).has(img.layers[0]!.digest), false);
    await assert.rejects(
      client.deleteBlob(`${server.address}/del`, img.layers[0]!.digest),
      (e) => kindOf(e) === "NotFound" && codeOf(e) === "BLOB_UNKNOWN",
    );
  });
  await withRegistry(
    async ({ server, content, client }) => {
      const img = await makeImage(content);
      await client.push(`${server.address}/keep:a`, { content, digest: img.manifest.digest });
      await assert.rejects(
        client.deleteManifest(`${server.address}/keep:a`),
        (e) => kindOf(e) === "NotImplemented" && codeOf(e) === "UNSUPPORTED",
      );
      const r = await raw(`${server.url}/v2/keep/blobs/${img.config.digest}`, "DELETE");
      assert.equal(r.status, 405);
      assert.equal(errorCode(r), "UNSUPPORTED");
    },
    { deleteEnabled: false },
  );
});

test("client: chunks go as PATCH, a lost chunk answer (416) is recovered from the upload status", async () => {
  const log: AccessLogEntry[] = [];
  await withRegistry(
    async ({ dir, server, content, client }) => {
      const img = await makeImage(content, { layers: [{ "big.bin": randomBytes(200_000) }] });
      // A proxy that forwards everything but "loses" the answer to the first PATCH.
      let dropped = false;
      const proxy = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          const up = http.request(`${server.url}${req.url}`, {
            method: req.method,
            headers: req.headers,
            agent: false,
          });
          up.on("error", () => res.destroy());
          up.on("response", (ur) => {
            const body: Buffer[] = [];
            ur.on("data", (c: Buffer) => body.push(c));
            ur.on("end", () => {
              if (req.method === "PATCH" && !dropped && ur.statusCode === 202) {
                dropped = true;
                res.writeHead(416, { Range: "0-0", "Content-Length": "0" });
                return res.end();
              }
              res.writeHead(ur.statusCode ?? 502, ur.headers);
              res.end(Buffer.concat(body));
            });
          });
          up.end(Buffer.concat(chunks));
        });
      });
      await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
      const via = `127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      try {
        const pushed = await client.push(`${via}/lossy:1`, {
          content,
          digest: img.manifest.digest,
          chunkSize: 50_000,
        });
        assert.equal(pushed.digest, img.manifest.digest);
        assert.equal(dropped, true);
        const patches = log.filter((e) => e.method === "PATCH");
        assert.ok(patches.length >= 4, `${patches.length} PATCH requests`);
        const fresh = await ContentStore.open(join(dir, "fresh"));
        const got = await client.pull(`${server.address}/lossy:1`, { content: fresh });
        assert.deepEqual(await fresh.read(got.layers[0]!.digest), await content.read(img.layers[0]!.digest));
      } finally {
        await new Promise<void>((resolve) => {
          proxy.close(() => resolve());
          proxy.closeAllConnections();
        });
      }
    },
    { log: (e) => log.push(e) },
  );
});

test("a registry sharing pier's metadata keeps its blobs alive for GC; concurrent pulls share downloads", () =>
  withTempDir("pier-registry-meta-", async (dir) => {
    const meta = MetadataStore.open(join(dir, "meta.db"));
    const shared = await ContentStore.open(join(dir, "content"));
    const server = await serve({ root: join(dir, "registry"), content: shared, meta });
    const client = new RegistryClient();
    try {
      const src = await ContentStore.open(join(dir, "src"));
      const img = await makeImage(src);
      await client.push(`${server.address}/kept:1`, { content: src, digest: img.manifest.digest });
      const live = meta.liveNodes();
      for (const d of [img.manifest, img.config, ...img.layers])
        assert.ok(live.has(`blob:${d.digest}`), d.digest);
      await client.deleteManifest(`${server.address}/kept@${img.manifest.digest}`);
      assert.equal(meta.liveNodes().has(`blob:${img.manifest.digest}`), false);
      assert.equal(await shared.has(img.manifest.digest), true, "shared content is left to pier's GC");
      const dest = await ContentStore.open(join(dir, "dest"));
      await client.push(`${server.address}/kept:2`, { content: src, digest: img.manifest.digest });
      const [a, b] = await Promise.all([
        client.pull(`${server.address}/kept:2`, { content: dest }),
        client.pull(`${server.address}/kept:2`, { content: dest }),
      ]);
      assert.equal(a.digest, b.digest);
      assert.equal(a.fetched.length + b.fetched.length, 3);
      assert.deepEqual(await dest.listIngests(), []);
    } finally {
      client.close();
      await server.close();
      meta.close();
    }
  }));

const users = { alice: "s3cret", bob: `{SHA}${createHash("sha1").update("hunter2").digest("base64")}` };

test("basic auth: required, and working with config.json credentials", () =>
  withRegistry(
    async ({ server, content, client }) => {
      const img = await makeImage(content);
      const r = await raw(`${server.url}/v2/`, "GET");
      assert.equal(r.status, 401);
      assert.match(String(r.headers["www-authenticate"]), /^Basic realm=/);
      assert.equal(errorCode(r), "UNAUTHORIZED");
      await assert.rejects(
        client.push(`${server.address}/sec:1`, { content, digest: img.manifest.digest }),
        (e) => kindOf(e) === "PermissionDenied",
      );
      for (const [user, pass] of [
        ["alice", "s3cret"],
        ["bob", "hunter2"],
      ] as const) {
        const c = new RegistryClient({
          auths: { [server.address]: { auth: Buffer.from(`${user}:${pass}`).toString("base64") } },
        });
        try {
          if (user === "bob") await c.ping(server.address); // alice's push is challenged on concurrent HEADs
          await c.push(`${server.address}/sec:${user}`, { content, digest: img.manifest.digest });
          const got = await c.pull(`${server.address}/sec:${user}`, { content });
          assert.equal(got.digest, img.manifest.digest);
        } finally {
          c.close();
        }
      }
      const wrong = new RegistryClient({
        auths: { [`http://${server.address}`]: { username: "alice", password: "x" } },
      });
      try {
        await assert.rejects(wrong.ping(server.address), (e) => kindOf(e) === "PermissionDenied");
      } finally {
        wrong.close();
      }
    },
    { auth: { type: "basic", users } },
  ));

test("token auth: challenge, token endpoint, scopes, anonymous pull", () =>
  withRegistry(
    async ({ server, content, client }) => {
      const img = await makeImage(content);
      const r = await raw(`${server.url}/v2/tok/manifests/1`, "GET");
      assert.equal(r.status, 401);
      assert.equal(
        r.headers["www-authenticate"],
        `Bearer realm="${server.url}/token",service="pier-test",scope="repository:tok:pull"`,
      );
      // Anonymous: may pull (nothing there yet), may not push.
      await assert.rejects(
        client.push(`${server.address}/tok:1`, { content, digest: img.manifest.digest }),
        (e) => kindOf(e) === "PermissionDenied",
      );
      const bad = await raw(`${server.url}/token?service=pier-test&scope=repository:tok:pull`, "GET", {
        headers: { Authorization: `Basic ${Buffer.from("alice:nope").toString("base64")}` },
      });
      assert.equal(bad.status, 401);
      const c = new RegistryClient({
        auths: { [server.address]: { username: "alice", password: "s3cret" } },
      });
      try {
        await c.push(`${server.address}/tok:1`, { content, digest: img.manifest.digest });
        await c.push(`${server.address}/tok2:1`, {
          content,
          digest: img.manifest.digest,
          mountFrom: ["tok"],
        });
        const got = await c.pull(`${server.address}/tok2:1`, { content });
        assert.equal(got.digest, img.manifest.digest);
      } finally {
        c.close();
      }
      const fresh = await ContentStore.open(join(serverRoot(server), "..", "anon"));
      const anon = await client.pull(`${server.address}/tok:1`, { content: fresh });
      assert.equal(anon.digest, img.manifest.digest);
      // A token for one repository does not open another.
      const tk = await raw(`${server.url}/token?service=pier-test&scope=repository:tok:pull`, "GET");
      const token = (JSON.parse(tk.body.toString()) as { token: string }).token;
      const other = await raw(`${server.url}/v2/tok2/manifests/1`, "GET", {
        headers: { Authorization: `Bearer ${token}` },
      });
      assert.equal(other.status, 401);
      assert.match(String(other.headers["www-authenticate"]), /error="insufficient_scope"/);
      const mine = await raw(`${server.url}/v2/tok/manifests/1`, "GET", {
        headers: { Authorization: `Bearer ${token}` },
      });
      assert.equal(mine.status, 200);
    },
    { auth: { type: "token", users, service: "pier-test", anonymousPull: true } },
  ));

test("a corrupt blob from a registry fails the pull and leaves nothing behind", async () => {
  await withTempDir("pier-registry-evil-", async (dir) => {
    const src = await ContentStore.open(join(dir, "src"));
    const img = await makeImage(src);
    const manifest = await src.read(img.manifest.digest);
    let mode: "flip" | "long" | "short" = "flip";
    const evil = http.createServer((req, res) => {
      const url = req.url ?? "";
      if (url === "/v2/") return res.end("{}");
      if (url.includes("/manifests/")) {
        res.writeHead(200, {
          "Content-Type": MEDIA.ociManifest,
          "Docker-Content-Digest": img.manifest.digest,
        });
        return res.end(manifest);
      }
      const m = /\/blobs\/(sha256:[0-9a-f]+)$/.exec(url);
      if (!m) return res.writeHead(404).end();
      void src.read(m[1]!).then((data) => {
        if (m[1] === img.layers[1]!.digest) {
          const copy = Buffer.from(data);
          if (mode === "flip") copy[copy.length - 5]! ^= 0xff;
          const body =
            mode === "long"
              ? Buffer.concat([copy, Buffer.from("extra")])
              : mode === "short"
                ? copy.subarray(0, 10)
                : copy;
          res.writeHead(200, { "Content-Length": String(body.length) });
          return res.end(body);
        }
        res.writeHead(200, { "Content-Length": String(data.length) });
        res.end(data);
      });
    });
    await new Promise<void>((resolve) => evil.listen(0, "127.0.0.1", resolve));
    const port = (evil.address() as AddressInfo).port;
    const client = new RegistryClient({ timeoutMs: 5_000 });
    try {
      for (const m of ["flip", "long", "short"] as const) {
        mode = m;
        const dest = await ContentStore.open(join(dir, `dest-${m}`));
        await assert.rejects(
          client.pull(`127.0.0.1:${port}/evil:1`, { content: dest }),
          (e) => kindOf(e) === "InvalidArgument",
        );
        assert.equal(await dest.has(img.layers[1]!.digest), false, m);
        assert.deepEqual(await dest.listIngests(), [], m);
      }
    } finally {
      client.close();
      await new Promise<void>((resolve) => {
        evil.close(() => resolve());
        evil.closeAllConnections();
      });
    }
  });
});

test("an interrupted download keeps its ingest and resumes with a Range request", async () => {
  await withTempDir("pier-registry-resume-", async (dir) => {
    const src = await ContentStore.open(join(dir, "src"));
    const img = await makeImage(src, { layers: [{ "big.bin": randomBytes(100_000) }] });
    const manifest = await src.read(img.manifest.digest);
    const layer = await src.read(img.layers[0]!.digest);
    let cut = true;
    const ranges: string[] = [];
    const flaky = http.createServer((req, res) => {
      const url = req.url ?? "";
      if (url.includes("/manifests/")) {
        res.writeHead(200, {
          "Content-Type": MEDIA.ociManifest,
          "Docker-Content-Digest": img.manifest.digest,
        });
        return res.end(manifest);
      }
      const m = /\/blobs\/(sha256:[0-9a-f]+)$/.exec(url);
      if (!m) return res.writeHead(404).end();
      if (m[1] !== img.layers[0]!.digest) {
        return void src.read(m[1]!).then((data) => res.end(data));
      }
      if (cut) {
        res.writeHead(200, { "Content-Length": String(layer.length) });
        res.write(layer.subarray(0, 40_000), () => setTimeout(() => res.destroy(), 50));
        return;
      }
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
      ranges.push(req.headers.range ?? "");
      if (!range) return res.end(layer);
      const start = Number(range[1]);
      res.writeHead(206, {
        "Content-Range": `bytes ${start}-${layer.length - 1}/${layer.length}`,
        "Content-Length": String(layer.length - start),
      });
      res.end(layer.subarray(start));
    });
    await new Promise<void>((resolve) => flaky.listen(0, "127.0.0.1", resolve));
    const reg = `127.0.0.1:${(flaky.address() as AddressInfo).port}`;
    const client = new RegistryClient({ timeoutMs: 5_000 });
    try {
      const dest = await ContentStore.open(join(dir, "dest"));
      await assert.rejects(
        client.pull(`${reg}/flaky:1`, { content: dest }),
        (e) => kindOf(e) === "Unavailable",
      );
      const left = await dest.listIngests();
      assert.equal(left.length, 1);
      assert.ok(left[0]!.offset > 0 && left[0]!.offset < layer.length, String(left[0]!.offset));
      assert.equal(await dest.has(img.layers[0]!.digest), false);
      cut = false;
      const got = await client.pull(`${reg}/flaky:1`, { content: dest });
      assert.deepEqual(ranges, [`bytes=${left[0]!.offset}-`]);
      assert.deepEqual(await dest.read(got.layers[0]!.digest), layer);
      assert.deepEqual(await dest.listIngests(), []);
    } finally {
      client.close();
      await new Promise<void>((resolve) => {
        flaky.close(() => resolve());
        flaky.closeAllConnections();
      });
    }
  });
});

test("plain http only for localhost or insecure registries; timeouts are clear", async () => {
  const { allowsHttp } = await import("./client/transport.ts");
  assert.equal(allowsHttp("127.0.0.1:5000"), true);
  assert.equal(allowsHttp("localhost"), true);
  assert.equal(allowsHttp("registry.example.com"), false);
  assert.equal(allowsHttp("registry.example.com:5000", ["registry.example.com:5000"]), true);
  // A server that never answers.
  const silent = http.createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  const port = (silent.address() as AddressInfo).port;
  const client = new RegistryClient({ timeoutMs: 300 });
  try {
    await assert.rejects(client.ping(`127.0.0.1:${port}`), (e) => kindOf(e) === "Unavailable");
  } finally {
    client.close();
    await new Promise<void>((resolve) => {
      silent.close(() => resolve());
      silent.closeAllConnections();
    });
  }
});
