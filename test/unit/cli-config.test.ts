import { describe, expect, it } from "vitest";
import { resolveConfig } from "../../core/cli/config.js";

describe("configuration", () => {
  it("takes the token from HOOKFLOW_API_TOKEN, else from the local stack's secrets file, else none", () => {
    const files: Record<string, string> = { "/w/.hookflow/secrets.json": '{"apiToken":"from-file"}' };
    const readFile = (path: string) => {
      const found = files[path];
      if (found === undefined) throw new Error("ENOENT");
      return found;
    };
    expect(resolveConfig({}, "/w", readFile)).toEqual({
      baseUrl: "http://127.0.0.1:8787",
      token: "from-file",
    });
    expect(resolveConfig({ HOOKFLOW_API_TOKEN: "env" }, "/w", readFile).token).toBe("env");
    expect(resolveConfig({ HOOKFLOW_DATA_DIR: "/elsewhere" }, "/w", readFile).token).toBeUndefined();
    expect(() => resolveConfig({ HOOKFLOW_URL: "not a url" }, "/w", readFile)).toThrow(/HOOKFLOW_URL/);
  });

  it("sends the local stack's token only to the local stack, and refuses credentials in the URL", () => {
    const readFile = () => '{"apiToken":"from-file"}';
    expect(resolveConfig({ HOOKFLOW_URL: "http://localhost:8787" }, "/w", readFile).token).toBe("from-file");
    expect(resolveConfig({ HOOKFLOW_URL: "https://ci.example.com" }, "/w", readFile).token).toBeUndefined();
    const withCredentials = () =>
      resolveConfig({ HOOKFLOW_URL: "https://me:hunter2@ci.example.com" }, "/w", readFile);
    expect(withCredentials).toThrow(/must not hold credentials/);
    expect(withCredentials).not.toThrow(/hunter2/);
  });
});
