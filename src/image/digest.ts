/**
 * OCI content digests: `algorithm:hex`. sha256 (the default) and sha512 are
 * supported; any other algorithm is refused by name.
 */
import { createHash, type Hash } from "node:crypto";
import { PierError } from "../common/errors.ts";

export type Algorithm = "sha256" | "sha512";

/** A digest string such as `sha256:9f86d0…`; validated by parseDigest. */
export type Digest = string;

const HEX_LEN: Record<Algorithm, number> = { sha256: 64, sha512: 128 };

export interface ParsedDigest {
  algorithm: Algorithm;
  hex: string;
}

export function parseDigest(d: string): ParsedDigest {
  const colon = d.indexOf(":");
  const alg = colon < 0 ? "" : d.slice(0, colon);
  const hex = d.slice(colon + 1);
  if (alg !== "sha256" && alg !== "sha512") {
    if (/^[a-z0-9]+(?:[.+_-][a-z0-9]+)*$/.test(alg) && /^[a-zA-Z0-9=_-]+$/.test(hex)) {
      throw new PierError("NotImplemented", `digest algorithm ${alg} not implemented (${d})`);
    }
    throw new PierError("InvalidArgument", `invalid digest ${JSON.stringify(d)}`);
  }
  if (hex.length !== HEX_LEN[alg] || !/^[0-9a-f]+$/.test(hex)) {
    throw new PierError("InvalidArgument", `invalid ${alg} digest ${JSON.stringify(d)}`);
  }
  return { algorithm: alg, hex };
}

export function isDigest(d: string): boolean {
  try {
    parseDigest(d);
    return true;
  } catch {
    return false;
  }
}

export function digestOf(data: Buffer | string, algorithm: Algorithm = "sha256"): Digest {
  return `${algorithm}:${createHash(algorithm).update(data).digest("hex")}`;
}

/** Incremental digest with a byte count. */
export class Digester {
  readonly algorithm: Algorithm;
  private readonly hash: Hash;
  size = 0;

  constructor(algorithm: Algorithm = "sha256") {
    this.algorithm = algorithm;
    this.hash = createHash(algorithm);
  }

  update(chunk: Buffer): this {
    this.hash.update(chunk);
    this.size += chunk.length;
    return this;
  }

  digest(): Digest {
    return `${this.algorithm}:${this.hash.digest("hex")}`;
  }
}
