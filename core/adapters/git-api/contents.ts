import type { GitHostApi } from "../../ports.js";
import type { HostCall } from "./host.js";
import { decodeBase64, encodePath, field } from "./http.js";

/**
 * GitHub's and Gitea's repository contents API, the same on both ("get repository content" at
 * `<repo>/contents/{path}?ref=`): a file object with base64 content, or a directory's entries as a list.
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

/** The paths in GitHub's and Gitea's changed-file entries: each file, and a renamed one's old name too. */
export function changedPaths(
  entries: Array<{ filename?: string; previous_filename?: string | null }>,
  target: string,
): string[] {
  return entries.flatMap((entry) => [
    field(entry.filename, "filename", target),
    ...(entry.previous_filename ? [entry.previous_filename] : []),
  ]);
}
