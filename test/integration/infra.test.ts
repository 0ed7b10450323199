import { execFile } from "node:child_process";
import { createCipheriv, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { bundleFunction } from "../../infra/bundle.js";
import { FUNCTION_NAMES } from "../../infra/functions.js";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../infra/local/emulators.js";
import { freshQueue, freshStore } from "../helpers/aws.js";

describe("the bundles esbuild makes", () => {
  let outRoot: string;
  beforeAll(() => {
    outRoot = mkdtempSync(join(tmpdir(), "hookflow-bundle-"));
  });
  afterAll(() => rmSync(outRoot, { recursive: true, force: true }));

  it("bundles every function into a module that exports its handler", async () => {
    for (const name of FUNCTION_NAMES) {
      const bundle = await bundleFunction(name, outRoot);
      expect(bundle.startupBytes).toBeGreaterThan(0);
      expect(bundle.totalBytes).toBeGreaterThanOrEqual(bundle.startupBytes);
      const module = (await import(bundle.entry)) as Record<string, unknown>;
      expect(typeof module.handler, name).toBe("function");
    }
    // esbuild bundles and imports five functions: CPU-bound, so a budget that holds on a loaded 2-core machine.
  }, 180_000);

  it("answers an API Gateway request in a fresh process, configured only by SST's encrypted links", async () => {
    const { table } = await freshStore();
    const { workUrl } = await freshQueue();
    const bundle = await bundleFunction("api", outRoot);

    // What SST does on deploy: the links, encrypted with AES-256-GCM under a per-function key, in a file.
    const key = randomBytes(32);
    const links = {
      HookflowTable: { name: table },
      HookflowQueue: { url: workUrl },
      HookflowApiToken: { value: "linked-token" },
    };
    const cipher = createCipheriv("aes-256-gcm", key, Buffer.alloc(12, 0));
    const encrypted = Buffer.concat([
      cipher.update(JSON.stringify(links)),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    const keyFile = join(outRoot, "resource.enc");
    writeFileSync(keyFile, encrypted);

    const event = (path: string, token: string) => ({
      version: "2.0",
      routeKey: "ANY /api/{proxy+}",
      rawPath: path,
      rawQueryString: "",
      headers: { authorization: `Bearer ${token}`, host: "api.example" },
      requestContext: { http: { method: "GET", path, protocol: "HTTP/1.1", sourceIp: "203.0.113.1" } },
      isBase64Encoded: false,
    });
    const script = `
      const { handler } = await import(${JSON.stringify(bundle.entry)});
      const answers = [];
      for (const event of JSON.parse(process.argv[1])) answers.push(await handler(event, {}));
      console.log(JSON.stringify(answers));`;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        script,
        JSON.stringify([event("/api/pipelines", "linked-token"), event("/api/pipelines", "wrong")]),
      ],
      {
        env: {
          PATH: process.env.PATH,
          SST_KEY: key.toString("base64"),
          SST_KEY_FILE: keyFile,
          HOOKFLOW_DYNAMODB_ENDPOINT: inject("dynamoEndpoint"),
          HOOKFLOW_SQS_ENDPOINT: inject("sqsEndpoint"),
          AWS_REGION: LOCAL_REGION,
          AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
        },
      },
    );
    const [allowed, refused] = JSON.parse(stdout) as Array<{ statusCode: number; body: string }>;
    expect(allowed?.statusCode).toBe(200);
    expect(JSON.parse(allowed?.body ?? "{}")).toEqual({ items: [] });
    expect(refused?.statusCode).toBe(401);
  });
});
