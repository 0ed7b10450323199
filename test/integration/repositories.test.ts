import { beforeAll, describe, expect, it } from "vitest";
import { createApiApp } from "../../functions/api.js";
import { testSystem } from "../helpers/system.js";

let app: ReturnType<typeof createApiApp>;
beforeAll(async () => {
  app = createApiApp((await testSystem()).api);
});

const call = (method: string, path: string) =>
  app.request(path, { method, headers: { authorization: "Bearer test-api-token" } });

describe("enabled repositories", () => {
  it("none by default; enabled with the path URL-encoded, GitLab subgroups included; listed; disabled", async () => {
    expect(await (await call("GET", "/api/repositories")).json()).toEqual({ items: [] });
    const first = await call("PUT", "/api/repositories/gitlab/acme%2Fplatform%2Fweb");
    expect(first.status).toBe(201);
    expect(await first.json()).toMatchObject({ provider: "gitlab", repository: "acme/platform/web" });
    expect((await call("PUT", "/api/repositories/gitlab/acme%2Fplatform%2Fweb")).status).toBe(200);
    expect((await call("PUT", "/api/repositories/github/acme%2Fweb")).status).toBe(201);
    const listed = (await (await call("GET", "/api/repositories")).json()) as {
      items: Array<{ repository: string }>;
    };
    expect(listed.items.map((r) => r.repository).sort()).toEqual(["acme/platform/web", "acme/web"]);
    expect((await call("GET", "/api/repositories/github/acme%2Fweb")).status).toBe(200);
    expect((await call("DELETE", "/api/repositories/github/acme%2Fweb")).status).toBe(204);
    expect((await call("DELETE", "/api/repositories/github/acme%2Fweb")).status).toBe(404);
    expect((await call("GET", "/api/repositories/github/acme%2Fweb")).status).toBe(404);
  });

  it.each([
    ["/api/repositories/bitbucket/acme%2Fweb", "provider"],
    ["/api/repositories/github/acme%2Fplatform%2Fweb", "path"],
    ["/api/repositories/github/acme", "path"],
    ["/api/repositories/gitea/acme%2F..", "path"],
    ["/api/repositories/gitlab/acme%2Fweb.git", "path"],
  ])("refuses %s with the path of the problem, storing nothing", async (url, path) => {
    const res = await call("PUT", url);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { issues: Array<{ path: string }> }).issues.map((i) => i.path)).toEqual([
      path,
    ]);
  });

  it("asks for the bearer token like every /api route", async () => {
    expect((await app.request("/api/repositories/github/acme%2Fweb", { method: "PUT" })).status).toBe(401);
  });
});
