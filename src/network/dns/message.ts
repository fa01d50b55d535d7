/**
 * The little of the DNS wire format (RFC 1035) pier's server needs: read the
 * header and the one question of a query, and build an answer with A records
 * (or none, with a response code). Anything else is forwarded as raw bytes.
 */

export const TYPE_A = 1;
export const CLASS_IN = 1;

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

export interface Query {
  id: number;
  /** Header flags as sent (opcode in bits 11–14, RD in bit 8). */
  flags: number;
  opcode: number;
  /** Lower-case, without the trailing dot. */
  name: string;
  type: number;
  class: number;
  /** Offset just past the question: the bytes [12, end) are copied into the answer. */
  end: number;
}

/** Parses a query; undefined if it is no query with exactly one well-formed question. */
export function parseQuery(msg: Buffer): Query | undefined {
  if (msg.length < 12) return undefined;
  const id = msg.readUInt16BE(0);
  const flags = msg.readUInt16BE(2);
  if (flags & 0x8000) return undefined; // a response, not a query
  if (msg.readUInt16BE(4) !== 1) return undefined;
  const labels: string[] = [];
  let off = 12;
  for (let total = 0; ;) {
    if (off >= msg.length) return undefined;
    const len = msg[off]!;
    if (len === 0) {
      off += 1;
      break;
    }
    if (len > 63) return undefined; // compression pointers have no place in a question
    if (off + 1 + len > msg.length) return undefined;
    labels.push(msg.toString("latin1", off + 1, off + 1 + len));
    off += 1 + len;
    total += len + 1;
    if (total > 255) return undefined;
  }
  if (off + 4 > msg.length) return undefined;
  return {
    id,
    flags,
    opcode: (flags >> 11) & 0xf,
    name: labels.join(".").toLowerCase(),
    type: msg.readUInt16BE(off),
    class: msg.readUInt16BE(off + 2),
    end: off + 4,
  };
}

/** The 12-byte header of a response to `q` (or to a query with this id and flags). */
function header(id: number, queryFlags: number, rcode: number, qd: number, an: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  // QR=1, opcode echoed, AA=1, RD echoed, RA=1, rcode.
  const flags = 0x8000 | (queryFlags & 0x7800) | 0x0400 | (queryFlags & 0x0100) | 0x0080 | (rcode & 0xf);
  h.writeUInt16BE(flags, 2);
  h.writeUInt16BE(qd, 4);
  h.writeUInt16BE(an, 6);
  return h;
}

/** An authoritative answer: the question echoed, one A record per address. */
export function buildAnswer(msg: Buffer, q: Query, rcode: number, addresses: string[], ttl: number): Buffer {
  const answers = addresses.map((ip) => {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question's name
    rr.writeUInt16BE(TYPE_A, 2);
    rr.writeUInt16BE(CLASS_IN, 4);
    rr.writeUInt32BE(ttl, 6);
    rr.writeUInt16BE(4, 10);
    ip.split(".").forEach((o, i) => rr.writeUInt8(Number(o), 12 + i));
    return rr;
  });
  return Buffer.concat([
    header(q.id, q.flags, rcode, 1, answers.length),
    msg.subarray(12, q.end),
    ...answers,
  ]);
}

/** A bare error response for a message too broken to echo its question. */
export function buildError(msg: Buffer, rcode: number): Buffer | undefined {
  if (msg.length < 4) return undefined;
  return header(msg.readUInt16BE(0), msg.readUInt16BE(2), rcode, 0, 0);
}

/** A query for `name` (used by tests and health checks). */
export function buildQuery(id: number, name: string, type = TYPE_A): Buffer {
  const parts = name
    .replace(/\.$/, "")
    .split(".")
    .map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, "latin1")]));
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(0x0100, 2); // RD
  h.writeUInt16BE(1, 4);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(CLASS_IN, 2);
  return Buffer.concat([h, ...parts, Buffer.from([0]), tail]);
}

/** Reads the rcode and the A records of a response (for tests and health checks). */
export function readAnswer(msg: Buffer): { id: number; rcode: number; addresses: string[] } {
  const id = msg.readUInt16BE(0);
  const rcode = msg.readUInt16BE(2) & 0xf;
  const qd = msg.readUInt16BE(4);
  const an = msg.readUInt16BE(6);
  let off = 12;
  const skipName = (): void => {
    for (;;) {
      const len = msg[off]!;
      if (len >= 0xc0) {
        off += 2;
        return;
      }
      off += 1 + len;
      if (len === 0) return;
    }
  };
  for (let i = 0; i < qd; i++) {
    skipName();
    off += 4;
  }
  const addresses: string[] = [];
  for (let i = 0; i < an; i++) {
    skipName();
    const type = msg.readUInt16BE(off);
    const rdlen = msg.readUInt16BE(off + 8);
    off += 10;
    if (type === TYPE_A && rdlen === 4) addresses.push([...msg.subarray(off, off + 4)].join("."));
    off += rdlen;
  }
  return { id, rcode, addresses };
}
