import { PermanentError } from "../../errors.js";
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

export type HostCall = ReturnType<typeof hostCall>;

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

/**
 * The entries of a paged list route, read page after page; undefined when a page is not found, or there are more
 * than `limit` entries or more pages than they would fill: at most `limit / perPage + 2` requests, whatever the
 * host holds. `exact` says the host serves `perPage` entries whenever it has them (GitHub, GitLab), so a short
 * page is the last; Gitea caps a page at its MAX_RESPONSE_ITEMS, so there the last page is an empty one or one
 * shorter than the first.
 */
export async function pagedList<T>(
  readPage: (page: number) => Promise<unknown>,
  options: { perPage: number; limit: number; exact: boolean; target: string },
): Promise<T[] | undefined> {
  const entries: T[] = [];
  const maxPages = Math.floor(options.limit / options.perPage) + 2;
  let firstSize = 0;
  for (let page = 1; page <= maxPages; page++) {
    const body = await readPage(page);
    // Not found, even midway (the pull request gone meanwhile): the list is not known.
    if (body === undefined) return undefined;
    if (!Array.isArray(body)) throw new PermanentError(`${options.target}: the answer is not a list`);
    entries.push(...(body as T[]));
    if (entries.length > options.limit) return undefined;
    if (page === 1) firstSize = body.length;
    if (body.length === 0 || body.length < (options.exact ? options.perPage : firstSize)) return entries;
  }
  return undefined;
}
