import { imageBackendContract } from "../contract-suite.ts";
import { MemoryImageBackend } from "./images.ts";

imageBackendContract("memory", async () => ({
  backend: new MemoryImageBackend([{ names: ["contract/one:1"], layers: 2 }]),
  ref: "contract/one:1",
  close: async () => {},
}));
