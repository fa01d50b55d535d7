/**
 * The CLI's ONE place that turns errors into what the user sees and the exit status,
 * matching docker: usage errors exit 125 with "See 'pier X --help'."; daemon answers print
 * "Error response from daemon: …" and exit 1; client-side errors print their message and
 * exit 1 (bad values 125). StatusError carries a chosen exit code.
 */
import { PierError, describe } from "../common/errors.ts";
import { ConnectError, DaemonError } from "../api/client/index.ts";
import { UsageError } from "./args.ts";
import { TemplateError } from "./template.ts";

/** Exit with this status after printing `message` (if any). */
export class StatusError extends Error {
  constructor(
    readonly status: number,
    message = "",
  ) {
    super(message);
    this.name = "StatusError";
  }
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof StatusError) return err.status;
  if (err instanceof UsageError) return 125;
  if (err instanceof TemplateError) return 125;
  if (err instanceof PierError && err.kind === "InvalidArgument" && !(err instanceof DaemonError)) return 125;
  return 1;
}

export function errorText(err: unknown): string {
  if (err instanceof StatusError) return err.message;
  if (err instanceof UsageError) {
    return `${err.message}\nSee '${err.command} --help'.`;
  }
  if (err instanceof DaemonError) return `Error response from daemon: ${err.message}`;
  if (err instanceof ConnectError) return err.message;
  if (err instanceof TemplateError) return `template parsing error: ${err.message}`;
  if (err instanceof PierError) return describe(err);
  if (err instanceof Error) return err.message;
  return String(err);
}
