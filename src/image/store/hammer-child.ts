/**
 * Test helper process: hammers a metadata database with `n` rounds of writes
 * (a read-modify-write counter, layers, manifests, images, a contended tag).
 */
import { digestOf } from "../digest.ts";
import { MetadataStore } from "./metadata.ts";

const [path, id, n, startAt] = process.argv.slice(2);
const store = MetadataStore.open(path!);
// Both children start writing at the same moment, so their writes really overlap.
const wait = Number(startAt) - Date.now();
if (wait > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, wait);
const bump = store.db.prepare("UPDATE test_counter SET n = ? WHERE id = 1");
const read = store.db.prepare<{ n: number }>("SELECT n FROM test_counter WHERE id = 1");
for (let i = 0; i < Number(n); i++) {
  store.transaction(() => {
    const v = read.get()!.n;
    bump.run(v + 1);
  });
  const layer = digestOf(`layer ${id} ${i}`);
  const config = digestOf(`config ${id} ${i}`);
  const manifest = digestOf(`manifest ${id} ${i}`);
  store.transaction(() => {
    store.putLayer({ digest: layer, diffID: digestOf(`diff ${id} ${i}`), mediaType: "tar", size: i });
    store.putConfig({ digest: config, size: 2, diffIDs: [digestOf(`diff ${id} ${i}`)] });
    store.putManifest({
      digest: manifest,
      mediaType: "m",
      size: 3,
      configDigest: config,
      layers: [layer],
      manifests: [],
    });
  });
  const target = { digest: manifest, mediaType: "m", size: 3 };
  store.putImage({ name: `c${id}/img:${i}`, target, configDigest: config });
  store.putImage({ name: "shared:latest", target });
  if (i % 10 === 0) store.listImages();
}
store.close();
process.stdout.write("done\n");
