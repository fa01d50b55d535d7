/** The snapshot contract, run against every snapshotter. */
import { before } from "node:test";
import { snapshotterContract } from "./contract-suite.ts";
import { NaiveSnapshotter } from "./naive.ts";
import { OverlaySnapshotter } from "./overlay.ts";
import { ensureFsops, kernelSkipReason } from "./testing.ts";

const skip = kernelSkipReason();

before(() => {
  if (!skip) ensureFsops();
});

snapshotterContract("overlayfs", (root) => OverlaySnapshotter.open(root), skip);
snapshotterContract("naive", (root) => NaiveSnapshotter.open(root), skip);
