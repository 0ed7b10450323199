import { describe, expect, it } from "vitest";
import { silentLogger } from "../../core/adapters/system.js";
import { callbackBaseUrl, loadConfig } from "../../core/config.js";
import { ValidationError } from "../../core/errors.js";
import { startRelay } from "../../core/relay/main.js";

function refusal(env: Record<string, string>): ValidationError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  throw new Error("the configuration was accepted");
}

describe("where hookflow's own Jobs and relay report (HOOKFLOW_CALLBACK_BASE_URL)", () => {
  it("is the public URL when unset or empty", () => {
    for (const env of [{}, { HOOKFLOW_CALLBACK_BASE_URL: "" }])
      expect(callbackBaseUrl(loadConfig({ HOOKFLOW_PUBLIC_URL: "https://ci.example.com/", ...env }))).toBe(
        "https://ci.example.com",
      );
  });

  it("is the setting when set, without its trailing slashes (a function URL ends in one)", () => {
    const config = loadConfig({
      HOOKFLOW_PUBLIC_URL: "https://ci.example.com",
      HOOKFLOW_CALLBACK_BASE_URL: "https://abc123.lambda-url.us-east-1.on.aws/",
    });
    expect(callbackBaseUrl(config)).toBe("https://abc123.lambda-url.us-east-1.on.aws");
    expect(config.HOOKFLOW_PUBLIC_URL).toBe("https://ci.example.com");
  });

  it.each([
    "abc123.lambda-url.us-east-1.on.aws",
    "ftp://files.example.com",
    "https://ci.example.com/?next=1",
    "https://ci.example.com/#top",
    "https://user:secret@ci.example.com",
  ])("refuses %s, naming the setting, as it refuses it for the public URL", (url) => {
    for (const setting of ["HOOKFLOW_CALLBACK_BASE_URL", "HOOKFLOW_PUBLIC_URL"])
      expect(refusal({ [setting]: url }).issues.map((issue) => issue.path)).toEqual([setting]);
  });

  it("refuses the relay a HOOKFLOW_URL it could not append its path to, before it watches anything", async () => {
    await expect(
      startRelay({ HOOKFLOW_URL: "https://ci.example.com/?x=1", HOOKFLOW_RELAY_TOKEN: "t" }, silentLogger),
    ).rejects.toThrow(/^HOOKFLOW_URL: an http:\/\/ or https:\/\/ URL without \? or #$/);
    await expect(
      startRelay({ HOOKFLOW_URL: "not a url", HOOKFLOW_RELAY_TOKEN: "t" }, silentLogger),
    ).rejects.toThrow(/^HOOKFLOW_URL: /);
  });
});
