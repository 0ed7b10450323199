export { GITEA_ROUTES, GITLAB_ROUTES, type Route } from "./routes.js";
export { type ChangedFile, type FakeCommit, FakeGitHosts, type FakeRequest } from "./server.js";
