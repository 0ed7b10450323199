import type { Provider } from "./pipeline.js";

const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/;
/** GitLab nests groups up to 20 levels; a project path is those groups and its own name. */
const MAX_GITLAB_SEGMENTS = 21;

/**
 * Why `path` cannot name a repository on `provider`, or undefined: GitHub and Gitea repositories are owner/name,
 * GitLab's are group(/subgroup…)/name; each segment letters, digits, '_', '.', '-', none of them "." or "..".
 */
export function repositoryPathProblem(provider: Provider, path: string): string | undefined {
  const segments = path.split("/");
  const most = provider === "gitlab" ? MAX_GITLAB_SEGMENTS : 2;
  if (path.length > 256) return "at most 256 characters";
  if (segments.length < 2 || segments.length > most)
    return provider === "gitlab" ? "group/name, with up to 20 groups (path_with_namespace)" : "owner/name";
  const bad = segments.find((s) => !SEGMENT.test(s) || s.endsWith(".git"));
  if (bad !== undefined)
    return `"${bad}" is not a repository path segment (letters, digits, '_', '.', '-'; not ending in .git)`;
  return undefined;
}
