import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { imageBackendContract } from "../../api/contract-suite.ts";
import { importRootfs } from "../../image/archive/index.ts";
import { ServiceImageBackend } from "./backend.ts";
import { mkdirSync, writeFileSync } from "node:fs";

imageBackendContract("image service", async () => {
  const dir = mkdtempSync(join(tmpdir(), "pier-backend-"));
  const backend = await ServiceImageBackend.open(join(dir, "root"), {
    snapshotter: "naive",
    authsFile: join(dir, "none.json"),
  });
  try {
    const rootfs = join(dir, "rootfs");
    mkdirSync(join(rootfs, "etc"), { recursive: true });
    writeFileSync(join(rootfs, "etc", "hello"), "hello\n");
    await importRootfs(backend.service, rootfs, "docker.io/contract/one:1", { created: new Date(0) });
  } catch (err) {
    await backend.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    backend,
    ref: "contract/one:1",
    close: async () => {
      await backend.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
