import { spawnSync } from "node:child_process";
import { PierError } from "../../common/errors.ts";
import type { Hook, State } from "../../oci/runtime-spec.ts";

/**
 * Runs hooks in the runtime's namespace (prestart, createRuntime, poststart,
 * poststop) with the container state on stdin, one after the other.
 * Throws on the first failure; callers decide whether that is fatal.
 */
export function runHooks(kind: string, hooks: Hook[] | undefined, state: State): void {
  for (const h of hooks ?? []) {
    const argv = h.args?.length ? h.args : [h.path];
    const env: Record<string, string> = {};
    for (const e of h.env ?? []) {
      const i = e.indexOf("=");
      if (i > 0) env[e.slice(0, i)] = e.slice(i + 1);
    }
    const r = spawnSync(h.path, argv.slice(1), {
      argv0: argv[0] ?? h.path,
      input: JSON.stringify(state),
      env,
      timeout: h.timeout ? h.timeout * 1000 : undefined,
      killSignal: "SIGKILL",
      stdio: ["pipe", "pipe", "pipe"],
    });
    if (r.error) {
      const code = (r.error as NodeJS.ErrnoException).code;
      if (code === "ETIMEDOUT")
        throw new PierError("FailedPrecondition", `${kind} hook ${h.path} timed out after ${h.timeout}s`);
      throw new PierError("FailedPrecondition", `${kind} hook ${h.path} could not run: ${r.error.message}`);
    }
    if (r.status !== 0) {
      const why = r.signal ? `killed by ${r.signal}` : `exit status ${r.status}`;
      const out = (r.stderr?.toString() || r.stdout?.toString() || "").trim();
      throw new PierError(
        "FailedPrecondition",
        `${kind} hook ${h.path} failed (${why})${out ? `: ${out}` : ""}`,
      );
    }
  }
}
