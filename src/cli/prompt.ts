/** docker's confirmation prompt: `Are you sure you want to continue? [y/N] `, yes only for y/Y. */
import type { FullIo } from "./context.ts";

/** Reads one line from stdin (nothing at EOF). */
function readLine(io: FullIo): Promise<string> {
  return new Promise((resolve) => {
    let buf = "";
    const stdin = io.stdin;
    const done = (line: string) => {
      stdin.off("data", onData);
      stdin.off("end", onEnd);
      stdin.pause();
      resolve(line);
    };
    const onData = (c: Buffer | string) => {
      buf += c.toString();
      const nl = buf.indexOf("\n");
      if (nl >= 0) done(buf.slice(0, nl));
    };
    const onEnd = () => done(buf);
    stdin.on("data", onData);
    stdin.on("end", onEnd);
    stdin.resume();
  });
}

export async function confirm(io: FullIo, warning: string): Promise<boolean> {
  io.out(`${warning}\nAre you sure you want to continue? [y/N] `);
  const answer = (await readLine(io)).trim();
  return answer === "y" || answer === "Y";
}
