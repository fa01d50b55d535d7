/**
 * What process a RUN (or CMD, ENTRYPOINT, HEALTHCHECK) stands for.
 *
 * - Exec form (`RUN ["a", "b"]`): that argv, no shell.
 * - Shell form: the stage's SHELL (default `/bin/sh -c`) plus the text.
 * - Here-documents, as BuildKit runs them:
 *     RUN <<EOF              the whole command is one here-document: its body
 *       ...                  is the script given to the shell; if the body
 *     EOF                    starts with `#!` it is written to
 *                            /dev/pipes/<name> (mode 0755) and executed directly.
 *     RUN cat <<A > /f       anything else: the line and every body (with its
 *                            terminator) are given to the shell, which reads
 *                            the here-documents itself.
 *
 * Usage:
 *   runCommand(run, ["/bin/sh", "-c"])  // { argv: ["/bin/sh", "-c", "echo hi"], files: [] }
 */
import type { CommandLine, Healthcheck, RunInstruction } from "./ast.ts";
import { heredocBody, parseHeredoc } from "./heredoc.ts";

export const DEFAULT_SHELL: readonly string[] = ["/bin/sh", "-c"];

/** A file the executor must provide to the RUN process (read-only), e.g. a here-document script. */
export interface RunFile {
  path: string;
  content: string;
  mode: number;
}

export interface RunCommand {
  argv: string[];
  files: RunFile[];
}

export function runCommand(run: RunInstruction, shell: readonly string[] = DEFAULT_SHELL): RunCommand {
  const cmd = run.command;
  if (cmd.form === "exec") return { argv: [...cmd.argv], files: [] };
  const first = run.heredocs[0];
  if (!first) return { argv: [...shell, cmd.text], files: [] };
  if (parseHeredoc(cmd.text)) {
    const body = heredocBody(first);
    if (body.startsWith("#!")) {
      const path = `/dev/pipes/${first.name}`;
      return { argv: [path], files: [{ path, content: body, mode: 0o755 }] };
    }
    return { argv: [...shell, body], files: [] };
  }
  let full = cmd.text;
  for (const h of run.heredocs) full += "\n" + h.content + h.name;
  return { argv: [...shell, full], files: [] };
}

/** The argv of a CMD or ENTRYPOINT as stored in the image config. */
export function commandArgv(cmd: CommandLine, shell: readonly string[] = DEFAULT_SHELL): string[] {
  return cmd.form === "exec" ? [...cmd.argv] : [...shell, cmd.text];
}

/** HEALTHCHECK's `Test` as stored in the image config: ["NONE"], ["CMD", ...argv] or ["CMD-SHELL", text]. */
export function healthcheckTest(h: Healthcheck): string[] {
  if (h.type === "NONE") return ["NONE"];
  return h.command.form === "exec" ? ["CMD", ...h.command.argv] : ["CMD-SHELL", h.command.text];
}
