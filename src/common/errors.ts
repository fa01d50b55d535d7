/**
 * The closed set of error kinds used across pier. Every layer throws a
 * `PierError` with one of these kinds; each API maps kinds to its own status
 * codes in exactly one place, and the CLIs map them to exit codes in one place.
 *
 * Tests check `err.kind`, never message text.
 */
export type ErrorKind =
  | "NotFound"
  | "AlreadyExists"
  | "InvalidArgument"
  | "FailedPrecondition"
  | "Conflict"
  | "PermissionDenied"
  | "ResourceExhausted"
  | "Unavailable"
  | "NotImplemented"
  | "Internal";

const CODES: Record<ErrorKind, string> = {
  NotFound: "ENOTFOUND",
  AlreadyExists: "EEXISTS",
  InvalidArgument: "EINVALID",
  FailedPrecondition: "EPRECONDITION",
  Conflict: "ECONFLICT",
  PermissionDenied: "EPERMISSION",
  ResourceExhausted: "EEXHAUSTED",
  Unavailable: "EUNAVAILABLE",
  NotImplemented: "ENOTIMPL",
  Internal: "EINTERNAL",
};

export class PierError extends Error {
  readonly kind: ErrorKind;
  readonly code: string;
  /** A hint telling the user what to do about it, printed after the message. */
  readonly hint: string | undefined;

  constructor(kind: ErrorKind, message: string, options: { cause?: unknown; hint?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "PierError";
    this.kind = kind;
    this.code = CODES[kind];
    this.hint = options.hint;
  }
}

export function isKind(err: unknown, kind: ErrorKind): boolean {
  return err instanceof PierError && err.kind === kind;
}

export const notFound = (msg: string, hint?: string) => new PierError("NotFound", msg, opt(hint));
export const alreadyExists = (msg: string, hint?: string) => new PierError("AlreadyExists", msg, opt(hint));
export const invalid = (msg: string, hint?: string) => new PierError("InvalidArgument", msg, opt(hint));
export const precondition = (msg: string, hint?: string) =>
  new PierError("FailedPrecondition", msg, opt(hint));
export const notImplemented = (msg: string, hint?: string) => new PierError("NotImplemented", msg, opt(hint));
export const internal = (msg: string, cause?: unknown) =>
  new PierError("Internal", msg, cause === undefined ? {} : { cause });

function opt(hint: string | undefined): { hint?: string } {
  return hint === undefined ? {} : { hint };
}

/**
 * Adds context to an error as it crosses a layer: "start container 3f2a: mount proc: EPERM".
 * The kind is kept; a plain Error (e.g. from fs) becomes Internal unless its errno says more.
 */
export function wrap(err: unknown, context: string): PierError {
  if (err instanceof PierError) {
    return new PierError(err.kind, `${context}: ${err.message}`, withHint({ cause: err }, err.hint));
  }
  const e = err as NodeJS.ErrnoException;
  const msg = e && typeof e.message === "string" ? e.message : String(err);
  return new PierError(kindOfErrno(e?.code), `${context}: ${msg}`, { cause: err });
}

function withHint(o: { cause: unknown }, hint: string | undefined): { cause: unknown; hint?: string } {
  return hint === undefined ? o : { ...o, hint };
}

export function kindOfErrno(code: string | undefined): ErrorKind {
  switch (code) {
    case "ENOENT":
    case "ESRCH":
      return "NotFound";
    case "EEXIST":
      return "AlreadyExists";
    case "EINVAL":
    case "ENOTDIR":
    case "EISDIR":
      return "InvalidArgument";
    case "EACCES":
    case "EPERM":
      return "PermissionDenied";
    case "EBUSY":
      return "Conflict";
    case "ENOSPC":
    case "EMFILE":
    case "ENFILE":
    case "ENOMEM":
    case "EAGAIN":
      return "ResourceExhausted";
    case "ENOSYS":
    case "EOPNOTSUPP":
      return "NotImplemented";
    default:
      return "Internal";
  }
}

/** The CLI's single mapping from kind to exit status. */
export function exitCodeOf(err: unknown): number {
  if (!(err instanceof PierError)) return 1;
  switch (err.kind) {
    case "InvalidArgument":
      return 2;
    default:
      return 1;
  }
}

/** Renders an error for a person: the message, then the hint if there is one. */
export function describe(err: unknown): string {
  if (err instanceof PierError) return err.hint ? `${err.message}\n  hint: ${err.hint}` : err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
