/**
 * Creating a container as `docker run`/`docker create` do: `--pull always` pulls first;
 * a 404 from create means the image is missing, so (unless `--pull never`) say so, pull it
 * with progress on stderr and create again. `--cidfile` is claimed before and written
 * after; the daemon's warnings are printed.
 */
import { closeSync, existsSync, openSync, writeSync } from "node:fs";
import {
  compareVersions,
  DaemonError,
  familiar,
  normalize,
  parseReference,
  type ApiClient,
} from "../api/client/index.ts";
import type { FullIo } from "./context.ts";
import { registryAuthHeader } from "./credentials.ts";
import { StatusError } from "./errors.ts";
import { renderProgress } from "./progress.ts";
import type { ContainerOptions } from "./run-flags.ts";

/** Pulls `image` with docker's progress display on stderr (nothing with `quiet`). */
export async function pullForRun(client: ApiClient, image: string, io: FullIo, opts: ContainerOptions) {
  const r = parseReference(image);
  const repo = `${r.domain}/${r.path}`;
  const tag = r.digest ?? r.tag ?? "latest";
  const auth = registryAuthHeader(r.domain);
  const stream = client.pullImage(repo, tag, {
    ...(opts.platform ? { platform: opts.platform } : {}),
    ...(auth ? { auth } : {}),
  });
  await renderProgress(stream, {
    write: (s) => {
      if (!opts.quiet) io.err(s);
    },
    isTTY: io.stderrIsTTY ?? false,
  });
}

/** Claims the cid file (docker refuses one that exists) and returns the writer of the id. */
function claimCidfile(path: string | undefined): { write(id: string): void; abandon(): void } {
  if (!path) return { write() {}, abandon() {} };
  if (existsSync(path)) {
    throw new StatusError(
      125,
      `container ID file found, make sure the other container isn't running or delete ${path}`,
    );
  }
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o644);
  } catch (e) {
    throw new StatusError(125, `failed to create the container ID file: ${(e as Error).message}`);
  }
  let done = false;
  return {
    write(id) {
      writeSync(fd, id);
      closeSync(fd);
      done = true;
    },
    abandon() {
      if (!done) closeSync(fd);
    },
  };
}

/** Creates the container (pulling its image if needed); returns its id. */
export async function createContainer(
  client: ApiClient,
  opts: ContainerOptions,
  io: FullIo,
): Promise<string> {
  // Fields the daemon's API version does not have are refused here, as docker does.
  const version = await client.apiVersion();
  if (opts.body.Healthcheck?.StartInterval && compareVersions(version, "1.44") < 0) {
    throw new StatusError(
      1,
      `"--health-start-interval" requires API version 1.44, but the Docker daemon API version is ${version}`,
    );
  }
  const cid = claimCidfile(opts.cidfile);
  try {
    if (opts.pull === "always") await pullForRun(client, opts.image, io, opts);
    const create = () =>
      client.containers.create(opts.body, {
        ...(opts.name ? { name: opts.name } : {}),
        ...(opts.platform ? { platform: opts.platform } : {}),
      });
    let res;
    try {
      res = await create();
    } catch (e) {
      if (!(e instanceof DaemonError) || e.status !== 404 || opts.pull === "never") throw e;
      io.err(`Unable to find image '${familiar(normalize(opts.image))}' locally\n`);
      await pullForRun(client, opts.image, io, opts);
      res = await create();
    }
    for (const w of res.Warnings ?? []) io.err(`WARNING: ${w}\n`);
    cid.write(res.Id);
    return res.Id;
  } finally {
    cid.abandon();
  }
}

/**
 * docker's runStartContainerErr: what `run` exits with when create or start fails —
 * 127 when the command is not found, 126 when it cannot be invoked, else 125.
 */
export function startErrorCode(message: string): number {
  if (
    message.includes("executable file not found") ||
    message.includes("no such file or directory") ||
    message.includes("system cannot find the file specified")
  ) {
    return 127;
  }
  if (message.includes("permission denied") || message.includes("is a directory")) return 126;
  return 125;
}
