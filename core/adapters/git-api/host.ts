import type { Clock } from "../../ports.js";
import type { Fetch } from "../notify/http.js";
import { systemClock } from "../system.js";
import { DEFAULT_READ_BOUNDS, getJson, type ReadBounds } from "./http.js";

export interface HostOptions {
  /** The API's base URL (GitHub) or the instance's (GitLab, Gitea). */
  baseUrl: string;
  token: string;
  fetch?: Fetch;
  bounds?: Partial<ReadBounds>;
  clock?: Clock;
}

/** GETs relative to a host's API root, with its headers, bounds and error naming. */
export function hostCall(options: HostOptions, tokenSetting: string, headers: Record<string, string>) {
  const root = options.baseUrl.replace(/\/+$/, "");
  const bounds = { ...DEFAULT_READ_BOUNDS, ...options.bounds };
  const target = `${tokenSetting.replace(/^HOOKFLOW_|_(API_)?TOKEN$/g, "").toLowerCase()} API at ${hostName(root)}`;
  return {
    target,
    get: (path: string) =>
      getJson(
        { url: `${root}${path}`, headers, target, tokenSetting, token: options.token },
        {
          ...bounds,
          fetch: options.fetch ?? globalThis.fetch,
          nowMs: Date.parse((options.clock ?? systemClock).now()),
        },
      ),
  };
}

function hostName(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "an invalid URL";
  }
}
