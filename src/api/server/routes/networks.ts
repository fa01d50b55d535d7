/** `/networks`: docker's network API over pier's network layer and engine. */
import type {
  Network,
  NetworkConnectRequest,
  NetworkCreateRequest,
  NetworkDisconnectRequest,
} from "../../container-types.ts";
import { invalid } from "../../../common/errors.ts";
import type { Engine } from "../../../engine/containers/engine.ts";
import type { NetworkManager, NetworkRecord } from "../../../network/index.ts";
import { readJson, sendJson, sendStatus } from "../context.ts";
import type { ApiServer } from "../server.ts";
import { parseFilters } from "./containers.ts";

function toApi(n: NetworkRecord): Network {
  const containers: Network["Containers"] = {};
  for (const ep of n.endpoints ?? []) {
    containers[ep.containerId] = {
      Name: ep.containerName,
      EndpointID: `${ep.containerId.slice(0, 32)}${n.id.slice(0, 32)}`,
      MacAddress: ep.mac ?? "",
      IPv4Address: ep.ip ? `${ep.ip}/${ep.prefixLen ?? 0}` : "",
      IPv6Address: "",
    };
  }
  return {
    Name: n.name,
    Id: n.id,
    Created: n.created,
    Scope: "local",
    Driver: n.driver,
    EnableIPv6: false,
    IPAM: {
      Driver: "default",
      Options: null,
      Config: n.subnet ? [{ Subnet: n.subnet, ...(n.gateway ? { Gateway: n.gateway } : {}) }] : [],
    },
    Internal: n.internal,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: "" },
    ConfigOnly: false,
    Containers: containers,
    Options: n.bridge ? { "com.docker.network.bridge.name": n.bridge } : {},
    Labels: n.labels,
  };
}

export function registerNetworkRoutes(server: ApiServer, mgr: NetworkManager, engine: Engine): void {
  server.get("/networks", async (ctx) => {
    const f = parseFilters(ctx.query);
    let nets = await Promise.all((await mgr.list()).map((n) => mgr.inspect(n.id)));
    if (f.name) nets = nets.filter((n) => f.name!.some((x) => n.name.includes(x)));
    if (f.id) nets = nets.filter((n) => f.id!.some((x) => n.id.startsWith(x)));
    if (f.driver) nets = nets.filter((n) => f.driver!.includes(n.driver));
    if (f.type) nets = nets.filter((n) => f.type!.includes(n.predefined ? "builtin" : "custom"));
    sendJson(ctx.res, 200, nets.map(toApi));
  });

  server.post("/networks/create", async (ctx) => {
    const body = ((await readJson(ctx.req)) ?? {}) as NetworkCreateRequest;
    if (!body.Name) throw invalid("network name is required");
    if (body.Driver && body.Driver !== "bridge")
      throw invalid(`driver ${body.Driver} is not supported`, "pier makes bridge networks");
    const cfg = body.IPAM?.Config?.[0];
    const n = await mgr.create({
      name: body.Name,
      ...(cfg?.Subnet ? { subnet: cfg.Subnet } : {}),
      ...(cfg?.Gateway ? { gateway: cfg.Gateway } : {}),
      ...(body.Internal ? { internal: true } : {}),
      labels: body.Labels ?? {},
      ...(body.Options?.["com.docker.network.bridge.name"]
        ? { bridgeName: body.Options["com.docker.network.bridge.name"] }
        : {}),
    });
    sendJson(ctx.res, 201, { Id: n.id, Warning: "" });
  });

  server.post("/networks/prune", async (ctx) => {
    const used = new Set((await engine.list()).flatMap((r) => Object.keys(r.endpoints)));
    const removed: string[] = [];
    for (const n of await mgr.list()) {
      if (n.predefined || used.has(n.name)) continue;
      const full = await mgr.inspect(n.id);
      if ((full.endpoints ?? []).length) continue;
      await mgr.remove(n.id);
      removed.push(n.name);
    }
    sendJson(ctx.res, 200, { NetworksDeleted: removed.length ? removed : null });
  });

  server.get("/networks/{id}", async (ctx) =>
    sendJson(ctx.res, 200, toApi(await mgr.inspect(ctx.params.id!))),
  );

  server.delete("/networks/{id}", async (ctx) => {
    await mgr.remove(ctx.params.id!);
    sendStatus(ctx.res, 204);
  });

  server.post("/networks/{id}/connect", async (ctx) => {
    const body = ((await readJson(ctx.req)) ?? {}) as NetworkConnectRequest;
    await engine.connect(body.Container, ctx.params.id!, body.EndpointConfig ?? {});
    sendStatus(ctx.res, 200);
  });

  server.post("/networks/{id}/disconnect", async (ctx) => {
    const body = ((await readJson(ctx.req)) ?? {}) as NetworkDisconnectRequest;
    await engine.disconnect(body.Container, ctx.params.id!, body.Force === true);
    sendStatus(ctx.res, 200);
  });
}
