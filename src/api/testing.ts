/** Test helpers: an API server with the in-memory backends on a temp socket. */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryImageBackend, type FakeImageSpec } from "./memory/images.ts";
import { createApiServer } from "./server/index.ts";
import type { ApiServer } from "./server/server.ts";

export interface TestDaemon {
  dir: string;
  socketPath: string;
  server: ApiServer;
  images: MemoryImageBackend;
  close(): Promise<void>;
}

export async function startTestDaemon(seed: FakeImageSpec[] = []): Promise<TestDaemon> {
  const dir = mkdtempSync(join(tmpdir(), "pier-api-"));
  const socketPath = join(dir, "pier.sock");
  const images = new MemoryImageBackend(seed);
  const server = createApiServer({ images, root: dir });
  try {
    await server.listen(socketPath);
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    dir,
    socketPath,
    server,
    images,
    close: async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command without blocking the event loop (the server may be in this process). */
export function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 20_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}
