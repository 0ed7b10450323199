import type { GitHostApi } from "../../ports.js";
import { type HostCall, pagedList } from "./host.js";
import { decodeBase64, encodePath, field } from "./http.js";

/*
 * The routes Gitea's API copies from GitHub's, read the same way on both: `repo` gives a repository's root
 * (GitHub's /repos/{owner}/{repo}, Gitea's /api/v1/repos/{owner}/{repo}).
 */

/**
 * "Get repository content" (`<repo>/contents/{path}?ref=`): a file object with base64 content, or a
 * directory's entries as a list.
 */
export function contentsApi(
  call: HostCall,
  repo: (repository: string) => string,
): Pick<GitHostApi, "readFile" | "listDirectory"> {
  const contents = (repository: string, commit: string, path: string) =>
    call.get(`${repo(repository)}/contents/${encodePath(path)}?ref=${encodeURIComponent(commit)}`);
  return {
    async readFile(repository, commit, path) {
      const body = (await contents(repository, commit, path)) as
        | { type?: string; content?: string | null; encoding?: string | null }
        | unknown[]
        | undefined;
      if (!body || Array.isArray(body) || body.type !== "file") return undefined;
      return decodeBase64(body.content, body.encoding, call.target);
    },
    async listDirectory(repository, commit, path) {
      const body = await contents(repository, commit, path);
      if (!Array.isArray(body)) return undefined;
      return (body as Array<{ name?: string; path?: string; type?: string }>).map((entry) => ({
        name: field(entry.name, "name", call.target),
        path: field(entry.path, "path", call.target),
        kind: entry.type === "file" ? "file" : entry.type === "dir" ? "directory" : "other",
      }));
    },
  };
}

/**
 * A pull request's changed files (`<repo>/pulls/{n}/files`): each file, and a renamed one's old name too.
 * `pageQuery` names the page and its size as the host does (GitHub `per_page`, Gitea `limit`); `exact` as in
 * pagedList.
 */
export function pullRequestFilesApi(
  call: HostCall,
  repo: (repository: string) => string,
  paging: { perPage: number; exact: boolean; pageQuery: (page: number) => string },
): Pick<GitHostApi, "pullRequestFiles"> {
  return {
    async pullRequestFiles(repository, number, limit) {
      const entries = await pagedList<{ filename?: string; previous_filename?: string | null }>(
        (page) => call.get(`${repo(repository)}/pulls/${number}/files?${paging.pageQuery(page)}`),
        { perPage: paging.perPage, limit, exact: paging.exact, target: call.target },
      );
      return entries?.flatMap((entry) => [
        field(entry.filename, "filename", call.target),
        ...(entry.previous_filename ? [entry.previous_filename] : []),
      ]);
    },
  };
}
