/** The image backend pierd serves: ImageService, registries and archives behind ImageBackend. */
export { ServiceImageBackend, type ServiceBackendOptions } from "./backend.ts";
export { dockerConfigPath, loadAuths } from "./credentials.ts";
