/** Reads a JSON-lines body (`\r\n` or `\n` separated) as objects, one at a time. */
export async function* readJsonLines<T = unknown>(
  body: AsyncIterable<Uint8Array | string>,
): AsyncGenerator<T> {
  let buf = "";
  const decoder = new TextDecoder();
  for await (const chunk of body) {
    buf += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line !== "") yield JSON.parse(line) as T;
    }
  }
  buf += decoder.decode();
  const last = buf.trim();
  if (last !== "") yield JSON.parse(last) as T;
}
