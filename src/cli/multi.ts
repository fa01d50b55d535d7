/**
 * Commands that act on several objects (stop, kill, rm, pause, volume rm, …) as docker's do: all
 * at once, each name printed in the order given once done, the errors printed together at
 * the end and the exit status 1 if any failed.
 */
import type { ApiClient } from "../api/client/index.ts";
import type { Cli } from "./context.ts";
import { StatusError, errorText } from "./errors.ts";

export async function forEachTarget(
  cli: Cli,
  names: string[],
  op: (client: ApiClient, name: string) => Promise<unknown>,
  opts: { failLine?: (failed: string[]) => string; print?: boolean } = {},
): Promise<void> {
  const client = await cli.client();
  const results = await Promise.allSettled(names.map((n) => op(client, n)));
  const errors: string[] = [];
  const failed: string[] = [];
  results.forEach((r, i) => {
    if (r.status === "fulfilled") {
      if (opts.print !== false) cli.io.out(`${names[i]!}\n`);
    } else {
      errors.push(errorText(r.reason));
      failed.push(names[i]!);
    }
  });
  if (errors.length > 0) {
    if (opts.failLine) errors.push(opts.failLine(failed));
    throw new StatusError(1, errors.join("\n"));
  }
}
