/**
 * The ONE place where pier's error kinds become HTTP status codes for the Docker API.
 * Bodies are docker's: `{"message": "..."}`.
 */
import type { ErrorKind } from "../../common/errors.ts";
import { PierError } from "../../common/errors.ts";

const STATUS: Record<ErrorKind, number> = {
  NotFound: 404,
  AlreadyExists: 409,
  InvalidArgument: 400,
  FailedPrecondition: 409,
  Conflict: 409,
  PermissionDenied: 403,
  ResourceExhausted: 503,
  Unavailable: 503,
  NotImplemented: 501,
  Internal: 500,
};

export function statusOfKind(kind: ErrorKind): number {
  return STATUS[kind];
}

/** Status and body for any thrown value; non-PierErrors are internal errors. */
export function errorResponse(err: unknown): { status: number; message: string } {
  if (err instanceof PierError) return { status: statusOfKind(err.kind), message: err.message };
  const message = err instanceof Error ? err.message : String(err);
  return { status: 500, message };
}
