/** The OCI runtime as a library: what `pier-runtime` and the engine call. */
export { Runtime, type RuntimeOptions } from "./context.ts";
export { create, launch, loadBundle, type CreateOptions } from "./container/create.ts";
export { start } from "./container/start.ts";
export { run, type RunOptions } from "./container/run.ts";
export { kill, parseSignal } from "./container/kill.ts";
export { deleteContainer } from "./container/delete.ts";
export { exec, type ExecOptions } from "./container/exec.ts";
export { state, list, pids, containerStatus, type FullState } from "./container/state.ts";
export { pause, resume } from "./container/pause.ts";
export { update } from "./container/update.ts";
export { defaultSpec } from "./spec.ts";
export { features } from "./features.ts";
