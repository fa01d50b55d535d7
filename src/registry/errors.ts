/**
 * The distribution spec's error codes, in one place for both sides: the server
 * turns them into `{"errors":[{code,message,detail}]}` bodies with their HTTP
 * status; the client turns such bodies back into a `RegistryError`, a
 * PierError whose kind is mapped here (tests check the kind, and may look at
 * `registryCode` for the exact spec code).
 */
import { PierError, type ErrorKind } from "../common/errors.ts";

export type RegistryCode =
  | "BLOB_UNKNOWN"
  | "BLOB_UPLOAD_INVALID"
  | "BLOB_UPLOAD_UNKNOWN"
  | "DIGEST_INVALID"
  | "MANIFEST_BLOB_UNKNOWN"
  | "MANIFEST_INVALID"
  | "MANIFEST_UNKNOWN"
  | "NAME_INVALID"
  | "NAME_UNKNOWN"
  | "SIZE_INVALID"
  | "TAG_INVALID"
  | "UNAUTHORIZED"
  | "DENIED"
  | "UNSUPPORTED"
  | "TOOMANYREQUESTS";

interface CodeInfo {
  status: number;
  kind: ErrorKind;
  message: string;
}

export const REGISTRY_CODES: Record<RegistryCode, CodeInfo> = {
  BLOB_UNKNOWN: { status: 404, kind: "NotFound", message: "blob unknown to registry" },
  BLOB_UPLOAD_INVALID: { status: 400, kind: "InvalidArgument", message: "blob upload invalid" },
  BLOB_UPLOAD_UNKNOWN: { status: 404, kind: "NotFound", message: "blob upload unknown to registry" },
  DIGEST_INVALID: {
    status: 400,
    kind: "InvalidArgument",
    message: "provided digest did not match uploaded content",
  },
  MANIFEST_BLOB_UNKNOWN: {
    status: 400,
    kind: "FailedPrecondition",
    message: "manifest references a manifest or blob unknown to registry",
  },
  MANIFEST_INVALID: { status: 400, kind: "InvalidArgument", message: "manifest invalid" },
  MANIFEST_UNKNOWN: { status: 404, kind: "NotFound", message: "manifest unknown to registry" },
  NAME_INVALID: { status: 400, kind: "InvalidArgument", message: "invalid repository name" },
  NAME_UNKNOWN: { status: 404, kind: "NotFound", message: "repository name not known to registry" },
  SIZE_INVALID: {
    status: 400,
    kind: "InvalidArgument",
    message: "provided length did not match content length",
  },
  TAG_INVALID: { status: 400, kind: "InvalidArgument", message: "invalid tag" },
  UNAUTHORIZED: { status: 401, kind: "PermissionDenied", message: "authentication required" },
  DENIED: { status: 403, kind: "PermissionDenied", message: "requested access to the resource is denied" },
  UNSUPPORTED: { status: 405, kind: "NotImplemented", message: "the operation is unsupported" },
  TOOMANYREQUESTS: { status: 429, kind: "ResourceExhausted", message: "too many requests" },
};

/** An error a registry answered with (client side) or will answer with (server side). */
export class RegistryError extends PierError {
  readonly registryCode: RegistryCode | undefined;
  readonly status: number;
  readonly detail: unknown;

  constructor(
    kind: ErrorKind,
    message: string,
    opts: { status: number; registryCode?: RegistryCode; detail?: unknown; cause?: unknown; hint?: string },
  ) {
    super(kind, message, {
      ...(opts.cause === undefined ? {} : { cause: opts.cause }),
      ...(opts.hint === undefined ? {} : { hint: opts.hint }),
    });
    this.registryCode = opts.registryCode;
    this.status = opts.status;
    this.detail = opts.detail;
  }
}

/** A server-side error with a spec code (its status and kind come from the table). */
export function registryError(code: RegistryCode, message?: string, detail?: unknown): RegistryError {
  const info = REGISTRY_CODES[code];
  return new RegistryError(info.kind, message ?? info.message, {
    status: info.status,
    registryCode: code,
    detail,
  });
}

/**
 * 416 Requested Range Not Satisfiable: a chunk that does not continue its
 * upload, or a blob range outside the blob (the spec names no code for it;
 * the body says BLOB_UPLOAD_INVALID).
 */
export function rangeError(message: string): RegistryError {
  return new RegistryError("InvalidArgument", message, { status: 416, registryCode: "BLOB_UPLOAD_INVALID" });
}

export function isRegistryCode(s: unknown): s is RegistryCode {
  return typeof s === "string" && Object.hasOwn(REGISTRY_CODES, s);
}

/** The kind for an HTTP status that came without a spec error body. */
export function kindOfStatus(status: number): ErrorKind {
  if (status === 401 || status === 403) return "PermissionDenied";
  if (status === 404) return "NotFound";
  if (status === 405 || status === 501) return "NotImplemented";
  if (status === 409) return "Conflict";
  if (status === 429) return "ResourceExhausted";
  if (status >= 500) return "Unavailable";
  return "InvalidArgument";
}
