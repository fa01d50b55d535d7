// pier: the docker-style CLI, a client of pierd's Docker Engine API.
import { main } from "../cli/main.ts";

async function warmup(): Promise<number> {
  // The build runs this once to make the V8 code cache: parse a template, lay out a table.
  const { formatRows } = await import("../cli/table.ts");
  formatRows([{ A: "x" }], { format: undefined, defaultFormat: "table {{.A}}\t{{.A}}", headers: {} });
  return 0;
}

const argv = process.argv.slice(2);
// `pier registry serve` runs the registry library here (not through pierd): loaded only for it.
const run =
  argv[0] === "__warmup"
    ? warmup()
    : argv[0] === "registry"
      ? import("./registry-serve.ts").then((m) => m.registryMain(argv.slice(1)))
      : main(argv);
run.then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.exitCode = 1;
    throw e;
  },
);
