/**
 * Hijacked connections (`POST /containers/{id}/attach`, `POST /exec/{id}/start`): an HTTP
 * request with `Connection: Upgrade` and `Upgrade: tcp` that the daemon answers `101`,
 * after which the socket carries the process's stdio both ways:
 *
 *   - us → daemon: stdin, always raw; `socket.end()` half-closes when stdin ends (or at
 *     once when there is none) and the daemon keeps writing until the process is done;
 *   - daemon → us: raw bytes with a TTY, 8-byte multiplexed frames without (stdcopy.ts).
 *
 * Each hijack gets its own connection (never the pooled agent's). A non-101 answer is a
 * DaemonError for 4xx/5xx, or docker's "unable to upgrade to tcp, received 200".
 */
import { request, type IncomingMessage } from "node:http";
import { connect, type Socket } from "node:net";
import { PierError } from "../../common/errors.ts";

export interface HijackRequest {
  socketPath: string;
  /** The full path with its query, already versioned. */
  path: string;
  /** A JSON body sent ahead of stdin (exec start), or none (attach, `text/plain`). */
  body?: unknown;
  headers?: Record<string, string>;
}

/** Thrown for an error answer instead of 101; the client wraps it as a DaemonError. */
export class HijackRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`unable to upgrade to tcp, received ${status}`);
    this.name = "HijackRefused";
  }
}

/**
 * Sends the upgrade request and resolves with the raw socket after the 101. Bytes the
 * daemon sent right behind the 101 are put back on the socket, so reading it sees them
 * first.
 */
export function hijack(req: HijackRequest): Promise<Socket> {
  const data = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
  const headers: Record<string, string> = {
    Host: "pier",
    "User-Agent": "pier-cli",
    Connection: "Upgrade",
    Upgrade: "tcp",
    "Content-Type": data ? "application/json" : "text/plain",
    ...req.headers,
  };
  if (data) headers["Content-Length"] = String(data.length);
  return new Promise<Socket>((resolve, reject) => {
    const r = request({
      method: "POST",
      path: req.path,
      headers,
      // Its own connection: the socket leaves HTTP for good after the 101.
      createConnection: () => connect(req.socketPath),
    });
    r.on("upgrade", (_res: IncomingMessage, socket: Socket, head: Buffer) => {
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    r.on("response", (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        reject(new HijackRefused(res.statusCode ?? 0, Buffer.concat(chunks).toString("utf8"))),
      );
      res.on("error", reject);
    });
    r.on("error", (e: NodeJS.ErrnoException) => {
      reject(
        e.code === "ENOENT" || e.code === "ECONNREFUSED"
          ? new PierError("Unavailable", `Cannot connect to the pier daemon at unix://${req.socketPath}`, {
              cause: e,
            })
          : e,
      );
    });
    r.end(data);
  });
}
