/** The exec endpoints: create, start (hijacked or detached), resize, inspect. */
import type { Socket } from "node:net";
import type { ExecCreateRequest, ExecInspect, ExecStartRequest, IdResponse } from "../container-types.ts";
import type { ApiClient } from "./client.ts";

export class ExecApi {
  constructor(private readonly c: ApiClient) {}

  create(container: string, body: ExecCreateRequest): Promise<IdResponse> {
    return this.c.json("POST", `/containers/${encodeURIComponent(container)}/exec`, { body });
  }

  /** Starts attached: the JSON body goes ahead of stdin on the hijacked socket. */
  startAttached(id: string, body: ExecStartRequest): Promise<Socket> {
    return this.c.hijack(`/exec/${encodeURIComponent(id)}/start`, { body });
  }

  /** Starts detached (`Detach: true`): an ordinary request, 200 with an empty body. */
  async startDetached(id: string, body: ExecStartRequest): Promise<void> {
    await this.c.empty("POST", `/exec/${encodeURIComponent(id)}/start`, { body: { ...body, Detach: true } });
  }

  async resize(id: string, height: number, width: number): Promise<void> {
    await this.c.empty("POST", `/exec/${encodeURIComponent(id)}/resize`, {
      query: { h: String(height), w: String(width) },
    });
  }

  inspect(id: string): Promise<ExecInspect> {
    return this.c.json("GET", `/exec/${encodeURIComponent(id)}/json`);
  }
}
