import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCommitStatusReporter } from "../../core/adapters/commit-status/index.js";
import { createNotificationSender } from "../../core/adapters/notify/index.js";
import { PermanentError, RetryableError } from "../../core/errors.js";
import type { Notifier, NotifierKind } from "../../core/model/index.js";
import { createApiApp } from "../../functions/api.js";
import { testSystem } from "../helpers/system.js";
import { caught, RECEIVER_TARGETS, runNotice } from "../receivers/fixtures.js";

/** A receiver on loopback that counts connections and answers as a test tells it to. */
interface Target {
  server: Server;
  origin: string;
  connections: number;
}

async function startTarget(handle: Parameters<typeof createServer>[1]): Promise<Target> {
  const server = createServer(handle);
  const target: Target = { server, origin: "", connections: 0 };
  server.on("connection", () => {
    target.connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  target.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return target;
}
const stop = (t: Target) =>
  new Promise((resolve) => {
    t.server.closeAllConnections();
    t.server.close(resolve);
  });
const notifier = (kind: NotifierKind, url: string): Notifier => ({ kind, url, on: ["run.failed"] });

describe("a target's answer is read a few KB at most, then the connection is dropped", () => {
  const HUGE = 300 * 1024 * 1024;
  const CHUNK = Buffer.alloc(64 * 1024, "x");
  /** What the server managed to hand its socket before the sender hung up, one entry per request. */
  const streams: Array<{ accepted: number; closed: Promise<void> }> = [];
  let target: Target;

  beforeAll(async () => {
    target = await startTarget((req, res) => {
      req.resume();
      const stream = { accepted: 0, closed: new Promise<void>((resolve) => res.on("close", resolve)) };
      streams.push(stream);
      // A robot's 200 whose JSON never ends; a webhook's 500 error page that never ends.
      res.writeHead(req.url?.startsWith("/cgi-bin/") ? 200 : 500, { "content-type": "application/json" });
      const pump = () => {
        while (stream.accepted < HUGE && !res.destroyed) {
          stream.accepted += CHUNK.length;
          if (!res.write(CHUNK)) return void res.once("drain", pump);
        }
        res.end();
      };
      pump();
    });
  });
  afterAll(() => stop(target));

  it.each<[NotifierKind, string]>([
    ["webhook", "/hook"],
    ["wecom", "/cgi-bin/webhook/send?key=ok"],
  ])("%s: a 300 MB answer", async (kind, path) => {
    const before = streams.length;
    const sender = createNotificationSender({ targets: RECEIVER_TARGETS });
    const error = await caught(sender.send(notifier(kind, `${target.origin}${path}`), runNotice()));
    expect(error).toBeInstanceOf(kind === "webhook" ? RetryableError : PermanentError);
    expect(error.message.length).toBeLessThan(500);
    const stream = streams[before];
    if (!stream) throw new Error("the target saw no request");
    await stream.closed;
    // The kernel's socket buffers on loopback hold a few MB; what was accepted stops there, far below 300 MB.
    expect(stream.accepted).toBeLessThan(32 * 1024 * 1024);
  });

  it("commit statuses: a 300 MB error answer from the host's API", async () => {
    const before = streams.length;
    const reporter = createCommitStatusReporter({ githubToken: "t", githubApiUrl: target.origin });
    const error = await caught(
      reporter.report({
        provider: "github",
        repository: "acme/web-app",
        commit: "9fceb02d0ae598e95dc970b74767f19372d61af8",
        state: "failure",
        context: "hookflow/web-app",
        description: "run failed",
        targetUrl: "https://hookflow.example.com/runs/r1",
      }),
    );
    expect(error).toBeInstanceOf(RetryableError);
    const stream = streams[before];
    if (!stream) throw new Error("the target saw no request");
    await stream.closed;
    expect(stream.accepted).toBeLessThan(32 * 1024 * 1024);
  });
});

describe("where a notification may go is checked again when it is sent", () => {
  let target: Target;
  beforeAll(async () => {
    target = await startTarget((req, res) => {
      req.resume();
      req.on("end", () => res.writeHead(204).end());
    });
  });
  afterAll(() => stop(target));

  it("refuses loopback unless the deployment allows it, without connecting", async () => {
    const sender = createNotificationSender();
    const before = target.connections;
    for (const url of [`${target.origin}/hook`, `${target.origin.replace("127.0.0.1", "localhost")}/hook`]) {
      const error = await caught(sender.send(notifier("webhook", url), runNotice()));
      expect(error).toBeInstanceOf(PermanentError);
      expect(error.message).toMatch(/refused, .* loopback/);
    }
    expect(target.connections).toBe(before);
  });

  it("resolves a name once, checks every address, and connects to the checked one", async () => {
    const asked: string[] = [];
    const port = new URL(target.origin).port;
    const sender = createNotificationSender({
      targets: RECEIVER_TARGETS,
      resolve: async (hostname) => {
        asked.push(hostname);
        return [{ address: "127.0.0.1", family: 4 }];
      },
    });
    const before = target.connections;
    // A name is https only; this target speaks plain HTTP, so the TLS handshake fails after the connection.
    const error = await caught(
      sender.send(notifier("webhook", `https://receiver.hookflow.test:${port}/hook`), runNotice()),
    );
    expect(error).toBeInstanceOf(RetryableError);
    expect(asked).toEqual(["receiver.hookflow.test"]);
    expect(target.connections).toBe(before + 1);
  });

  it.each([
    ["a name that resolves to loopback where loopback is not allowed", false, ["127.0.0.1"]],
    ["a name with one private address among its answers", true, ["127.0.0.1", "10.0.0.1"]],
    ["a name resolving to the metadata service's address", true, ["127.0.0.1", "169.254.169.254"]],
    ["a name resolving to an IPv4-mapped loopback", false, ["::ffff:127.0.0.1"]],
  ] as const)("refuses %s, without connecting", async (_, allowLoopback, addresses) => {
    const port = new URL(target.origin).port;
    const sender = createNotificationSender({
      targets: { allowLoopback },
      resolve: async () => addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 })),
    });
    const before = target.connections;
    const error = await caught(
      sender.send(notifier("webhook", `https://rebound.hookflow.test:${port}/hook`), runNotice()),
    );
    expect(error).toBeInstanceOf(PermanentError);
    expect(error.message).toContain("rebound.hookflow.test resolves to");
    expect(target.connections).toBe(before);
  });
});

describe("a generic webhook's answer is never stored", () => {
  let target: Target;
  beforeAll(async () => {
    target = await startTarget((req, res) => {
      req.resume();
      req.on("end", () => res.writeHead(403).end("internal: db password is hunter2"));
    });
  });
  afterAll(() => stop(target));

  it("the error says the status, and nothing of the body", async () => {
    const sender = createNotificationSender({ targets: RECEIVER_TARGETS });
    const error = await caught(sender.send(notifier("webhook", `${target.origin}/hook`), runNotice()));
    expect(error.message).toBe(`webhook notifier at ${new URL(target.origin).host}: HTTP 403`);
  });
});

describe("notify URLs are checked when a definition is written", () => {
  const pipeline = (urls: string[]) => ({
    name: "targets",
    notify: urls.map((url) => ({ kind: "webhook", url })),
    stages: [{ name: "a", tasks: [{ name: "t", run: { image: "alpine", command: ["true"] } }] }],
  });
  async function put(app: ReturnType<typeof createApiApp>, body: unknown) {
    const res = await app.request("/api/pipelines/targets", {
      method: "PUT",
      headers: { authorization: "Bearer test-api-token", "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as { issues?: Array<{ path: string }> } };
  }

  const REFUSED_EVERYWHERE = [
    "https://169.254.169.254/latest/meta-data/",
    "https://10.0.0.1/hook",
    "https://172.16.5.4/hook",
    "https://192.168.1.1/hook",
    "https://100.64.0.1/hook",
    "https://0.0.0.0/hook",
    "https://224.0.0.1/hook",
    "https://[fd00::1]/hook",
    "https://[fe80::1]/hook",
    "https://[::ffff:169.254.169.254]/hook",
    "http://example.com/hook",
  ];
  const LOOPBACK = [
    "http://localhost:9001/2018-06-01/runtime/invocation/next",
    "http://127.0.0.1:9001/hook",
    "http://0x7f000001/hook",
    "http://2130706433/hook",
    "http://0177.0.0.1/hook",
    "https://[::1]/hook",
    "https://[::ffff:127.0.0.1]/hook",
  ];

  it("refuses private, link-local, reserved and (by default) loopback addresses, naming each field", async () => {
    const system = await testSystem({ env: { HOOKFLOW_ALLOW_LOOPBACK_TARGETS: "0" } });
    const app = createApiApp(system.api);
    for (const urls of [REFUSED_EVERYWHERE, LOOPBACK]) {
      const { status, body } = await put(app, pipeline(urls));
      expect(status).toBe(400);
      expect(body.issues?.map((i) => i.path)).toEqual(urls.map((_, i) => `notify[${i}].url`));
    }
    expect(await system.stores.definitions.getPipeline("targets")).toBeUndefined();
    expect((await put(app, pipeline(["https://hooks.example.com/a"]))).status).toBe(201);
  });

  it("allows loopback where the stack says so, and nothing more", async () => {
    const system = await testSystem({ env: { HOOKFLOW_ALLOW_LOOPBACK_TARGETS: "1" } });
    const app = createApiApp(system.api);
    expect((await put(app, pipeline(LOOPBACK))).status).toBe(201);
    const { status, body } = await put(app, pipeline(REFUSED_EVERYWHERE));
    expect(status).toBe(400);
    expect(body.issues).toHaveLength(REFUSED_EVERYWHERE.length);
  });

  it("never allows loopback inside Lambda, whose runtime API listens there", async () => {
    const system = await testSystem({
      env: { HOOKFLOW_ALLOW_LOOPBACK_TARGETS: "1", AWS_LAMBDA_RUNTIME_API: "127.0.0.1:9001" },
    });
    const { status } = await put(createApiApp(system.api), pipeline(["http://127.0.0.1:9001/hook"]));
    expect(status).toBe(400);
  });

  it("shows webhook URLs masked, and written back each keeps its own stored URL and secret", async () => {
    const system = await testSystem();
    const app = createApiApp(system.api);
    const first = { kind: "webhook", url: "https://hooks.example.com/a?token=first-token", secret: "s-one" };
    const second = {
      kind: "webhook",
      url: "https://hooks.example.com/b?token=second-token",
      secret: "s-two",
    };
    expect((await put(app, { ...pipeline([]), notify: [first, second] })).status).toBe(201);
    const shown = await (
      await app.request("/api/pipelines/targets", { headers: { authorization: "Bearer test-api-token" } })
    ).json();
    expect(JSON.stringify(shown)).not.toMatch(/first-token|second-token|s-one|s-two|\/a\b|\/b\b/);
    expect((shown as { notify: Array<{ url: string }> }).notify.map((n) => n.url)).toEqual([
      "https://hooks.example.com/******",
      "https://hooks.example.com/******",
    ]);
    expect((await put(app, shown)).status).toBe(200);
    const stored = (await system.stores.definitions.getPipeline("targets"))?.value.notify;
    expect(stored?.map((n) => [n.url, n.secret])).toEqual([
      [first.url, first.secret],
      [second.url, second.secret],
    ]);
  });
});
