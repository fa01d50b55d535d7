/** Small helpers over the content store shared by the registry client and server. */
import { randomUUID } from "node:crypto";
import type { ContentStore } from "../image/content/store.ts";

/**
 * Stores bytes held in memory under their digest. (ContentStore.put names its
 * ingest by pid, content and millisecond, so two puts of the same bytes at
 * once in one process collide on the ingest lock; a random ref does not.)
 */
export async function putBytes(content: ContentStore, data: Buffer, digest: string): Promise<void> {
  if (await content.has(digest)) return;
  await content.ingest(`registry-put-${randomUUID()}`, [data], { expected: digest, total: data.length });
}
