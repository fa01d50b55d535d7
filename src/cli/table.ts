/**
 * Output formatting shared by the list commands: Go's tabwriter as docker configures it
 * (minwidth 10, padding 3, spaces), and docker's `--format` handling (`table …`, `json`,
 * a Go template, `\t` and `\n` escapes).
 */
import { compile, goJson } from "./template.ts";

/** Aligns tab-separated cells like `tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)`. */
export function tabwrite(text: string, minwidth = 10, padding = 3): string {
  const lines = text.split("\n");
  const rows = lines.map((l) => l.split("\t"));
  const widths: number[] = [];
  for (const r of rows) {
    for (let j = 0; j < r.length - 1; j++) {
      const w = [...r[j]!].length + padding;
      widths[j] = Math.max(widths[j] ?? minwidth, w, minwidth);
    }
  }
  return rows
    .map((r) =>
      r.map((c, j) => (j < r.length - 1 ? c + " ".repeat((widths[j] ?? 0) - [...c].length) : c)).join(""),
    )
    .join("\n");
}

export interface FormatSpec {
  /** The user's --format, or undefined for the command's default. */
  format: string | undefined;
  /** The command's default table format, e.g. "table {{.Repository}}\t{{.Tag}}". */
  defaultFormat: string;
  /** Column headers by field name, e.g. { ID: "IMAGE ID" }. */
  headers: Record<string, string>;
}

/** A copy with keys in sorted order: docker marshals its row contexts as Go maps. */
function sortKeys(o: object): object {
  const r = o as Record<string, unknown>;
  return Object.fromEntries(
    Object.keys(r)
      .sort()
      .map((k) => [k, r[k]]),
  );
}

/** Renders rows as docker's formatter does; the result ends with a newline unless empty. */
export function formatRows(input: object[], spec: FormatSpec): string {
  const rows = input.map(sortKeys);
  let f = spec.format ?? spec.defaultFormat;
  if (f === "json") f = "{{json .}}";
  if (f === "table") f = spec.defaultFormat;
  const isTable = f.startsWith("table");
  if (isTable) f = f.slice("table".length);
  f = f.trim().replace(/\\t/g, "\t").replace(/\\n/g, "\n");
  const tpl = compile(f);
  let out = "";
  if (isTable) {
    const header: Record<string, string> = {};
    const keys = new Set<string>(Object.keys(spec.headers));
    for (const r of rows) for (const k of Object.keys(r)) keys.add(k);
    for (const k of keys) header[k] = spec.headers[k] ?? k.replace(/([a-z])([A-Z])/g, "$1 $2").toUpperCase();
    out = tpl.execute(header) + "\n";
  }
  for (const r of rows) out += tpl.execute(r) + "\n";
  return isTable ? tabwrite(out.slice(0, -1)) + "\n" : out;
}

/** `docker inspect` output: a JSON array indented by 4, or one template result per object. */
export function formatInspect(objects: unknown[], format: string | undefined): string {
  if (format === undefined || format === "" || format === "json") {
    return JSON.stringify(objects, null, 4) + "\n";
  }
  const tpl = compile(format.replace(/\\t/g, "\t").replace(/\\n/g, "\n"));
  return objects.map((o) => tpl.execute(o) + "\n").join("");
}

export { goJson };
