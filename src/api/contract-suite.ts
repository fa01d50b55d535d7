/**
 * The ImageBackend contract: what the API routes rely on, run against every
 * implementation (the in-memory one here; the ImageService adapter when it is wired).
 *
 *   imageBackendContract("memory", async () => {
 *     const b = new MemoryImageBackend([{ names: ["contract/one:1"] }]);
 *     return { backend: b, ref: "contract/one:1", close: async () => {} };
 *   });
 *
 * The harness gives a backend holding exactly one image, named `ref`.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { PierError } from "../common/errors.ts";
import type { ImageBackend } from "./backend.ts";
import { familiar, normalize } from "./reference.ts";

export interface ContractHarness {
  backend: ImageBackend;
  ref: string;
  close(): Promise<void>;
}

const kindOf = (kind: string) => (e: unknown) => e instanceof PierError && e.kind === kind;
const sameName = (a: string, b: string) => familiar(normalize(a)) === familiar(normalize(b));

export function imageBackendContract(name: string, make: () => Promise<ContractHarness>): void {
  describe(`ImageBackend contract: ${name}`, () => {
    const withBackend = (fn: (h: ContractHarness) => Promise<void>) => async () => {
      const h = await make();
      try {
        await fn(h);
      } finally {
        await h.close();
      }
    };

    test(
      "list and inspect agree; ids are config digests",
      withBackend(async ({ backend, ref }) => {
        const list = await backend.list({ all: false });
        assert.equal(list.length, 1);
        const img = await backend.inspect(ref);
        assert.match(img.id, /^sha256:[0-9a-f]{64}$/);
        assert.equal(list[0]?.id, img.id);
        assert.ok(img.names.some((n) => sameName(n, ref)));
        assert.ok(img.created instanceof Date);
        assert.ok(img.layers.length > 0);
        assert.equal((await backend.inspect(img.id)).id, img.id, "by full id");
        assert.equal((await backend.inspect(img.id.slice(7, 19))).id, img.id, "by short id");
      }),
    );

    test(
      "unknown refs are NotFound; bad refs InvalidArgument",
      withBackend(async ({ backend }) => {
        await assert.rejects(backend.inspect("contract/absent:1"), kindOf("NotFound"));
        await assert.rejects(backend.history("contract/absent:1"), kindOf("NotFound"));
        await assert.rejects(
          backend.remove("contract/absent:1", { force: false, noPrune: false }),
          kindOf("NotFound"),
        );
        await assert.rejects(backend.tag("contract/absent:1", "contract/x:1"), kindOf("NotFound"));
        await assert.rejects(backend.inspect("Busybox"), kindOf("InvalidArgument"));
      }),
    );

    test(
      "history: newest first, the top entry is the image",
      withBackend(async ({ backend, ref }) => {
        const img = await backend.inspect(ref);
        const h = await backend.history(ref);
        assert.ok(h.length > 0);
        assert.equal(h[0]?.id, img.id);
      }),
    );

    test(
      "tag adds a name; removing one of two names only untags; by id needs force",
      withBackend(async ({ backend, ref }) => {
        const img = await backend.inspect(ref);
        await backend.tag(ref, "localhost:5000/contract/two:2");
        assert.equal((await backend.inspect("localhost:5000/contract/two:2")).id, img.id);
        await assert.rejects(backend.remove(img.id, { force: false, noPrune: false }), kindOf("Conflict"));
        const r1 = await backend.remove("localhost:5000/contract/two:2", { force: false, noPrune: false });
        assert.equal(r1.length, 1);
        assert.ok("untagged" in r1[0]! && sameName(r1[0].untagged, "localhost:5000/contract/two:2"));
        const r2 = await backend.remove(ref, { force: false, noPrune: false });
        assert.ok(r2.some((r) => "untagged" in r));
        assert.ok(r2.some((r) => "deleted" in r && r.deleted === img.id));
        assert.deepEqual(await backend.list({ all: false }), []);
      }),
    );

    test(
      "save then load brings a removed image back",
      withBackend(async ({ backend, ref }) => {
        const id = (await backend.inspect(ref)).id;
        const chunks: Buffer[] = [];
        for await (const c of await backend.save([ref])) chunks.push(c as Buffer);
        await backend.remove(ref, { force: true, noPrune: false });
        const { Readable } = await import("node:stream");
        const r = await backend.load(Readable.from([Buffer.concat(chunks)]), () => {});
        assert.ok(r.names.some((n) => sameName(n, ref)));
        assert.equal((await backend.inspect(ref)).id, id);
      }),
    );
  });
}
