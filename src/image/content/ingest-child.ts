/**
 * Test helper process: writes `chunks` 64 KiB chunks of deterministic data to
 * ingest `ref`, reports "wrote N" after each, then hangs (to be killed) unless
 * `finish` is given.
 */
import { ContentStore } from "./store.ts";

export function chunk(i: number): Buffer {
  return Buffer.alloc(64 * 1024, i % 251);
}

async function main(): Promise<void> {
  const [root, ref, n, finish] = process.argv.slice(2);
  const store = await ContentStore.open(root!);
  const w = await store.writer(ref!);
  for (let i = 0; i < Number(n); i++) {
    await w.write(chunk(i));
    process.stdout.write(`wrote ${i + 1}\n`);
  }
  if (finish === "finish") {
    const d = await w.commit();
    process.stdout.write(`committed ${d.digest}\n`);
    return;
  }
  setInterval(() => undefined, 1000);
}

if (process.argv[1] === import.meta.filename) await main();
