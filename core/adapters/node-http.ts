/**
 * node:http as node's own modules see it, not through an ES module import: on node 22 an `import` of node:http
 * builds its module namespace from every export, reading the getters of `WebSocket`, `CloseEvent` and
 * `MessageEvent`, and so loads undici (about 20 ms at a cold start that would not load it otherwise, issue 20).
 * Its types are imported from "node:http" as usual: a type import is not loaded.
 */
export const nodeHttp = process.getBuiltinModule("node:http");
