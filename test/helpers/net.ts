/** Loopback helpers for tests: a free TCP port, and a GET's body. */
import { get } from "node:http";
import { createServer } from "node:net";

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => (typeof a === "object" && a ? resolve(a.port) : reject(new Error("no port"))));
    });
  });
}

export function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    get(url, (res) => {
      let b = "";
      res.setEncoding("utf8").on("data", (c: string) => (b += c));
      res.on("end", () => resolve(b));
    }).on("error", reject);
  });
}
