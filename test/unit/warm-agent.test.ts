import { readFileSync } from "node:fs";
import { createServer, request, type Server } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { WarmAgent } from "../../core/adapters/warm-agent.js";

const TLS = join(import.meta.dirname, "..", "fixtures", "tls");
const ca = readFileSync(join(TLS, "ca.pem"));

let server: Server;
let origin: string;
/** Every TLS connection the server accepted, in order, and how many requests each carried. */
let accepted: Array<{ socket: Socket; requests: number }> = [];

beforeAll(async () => {
  server = createServer(
    { key: readFileSync(join(TLS, "server-key.pem")), cert: readFileSync(join(TLS, "server.pem")) },
    (req, res) => {
      const connection = accepted.find((c) => c.socket === req.socket);
      if (connection) connection.requests++;
      res.end("ok");
    },
  );
  server.on("secureConnection", (socket) => accepted.push({ socket, requests: 0 }));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  accepted = [];
});

const get = (agent: WarmAgent) =>
  new Promise<string>((resolve, reject) => {
    request(`${origin}/`, { agent }, (res) => {
      let body = "";
      res.on("data", (chunk) => {
        body += chunk;
      });
      res.on("end", () => resolve(body));
    })
      .on("error", reject)
      .end();
  });

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

describe("WarmAgent", () => {
  it("opens a connection before any request, and the first request goes over it", async () => {
    const agent = new WarmAgent({ ca });
    agent.warm(origin);
    await until(() => accepted.length === 1);
    expect(await get(agent)).toBe("ok");
    expect(accepted.map((c) => c.requests)).toEqual([1]);
    agent.destroy();
  });

  it("spareOnce: the first connection opens a second beside it, which two requests at once then share", async () => {
    const agent = new WarmAgent({ ca });
    agent.spareOnce();
    expect(await get(agent)).toBe("ok");
    await until(() => accepted.length === 2);
    expect(await Promise.all([get(agent), get(agent)])).toEqual(["ok", "ok"]);
    expect(accepted).toHaveLength(2);
    expect(accepted.map((c) => c.requests).sort()).toEqual([1, 2]);
    agent.destroy();
  });

  it("drops a warmed connection that closed before a request took it: the request opens its own", async () => {
    const agent = new WarmAgent({ ca });
    agent.warm(origin);
    await until(() => accepted.length === 1);
    accepted[0]?.socket.destroy();
    // Once the agent's side has seen it close.
    await until(() => (agent as unknown as { waiting: Map<string, unknown> }).waiting.size === 0);
    expect(await get(agent)).toBe("ok");
    expect(accepted.map((c) => c.requests)).toEqual([0, 1]);
    agent.destroy();
  });

  it("opens nothing for a plain http origin", async () => {
    const agent = new WarmAgent({ ca });
    agent.warm(origin.replace("https:", "http:"));
    expect(await get(agent)).toBe("ok");
    expect(accepted.map((c) => c.requests)).toEqual([1]);
    agent.destroy();
  });
});
