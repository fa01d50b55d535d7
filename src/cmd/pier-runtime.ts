// pier-runtime: the OCI runtime's command line (a drop-in for runc).
import { main } from "../runtime/cli/main.ts";

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.exitCode = 1;
    throw e;
  },
);
