/**
 * Built-in modules as node's own code sees them (their CommonJS exports), where an ES module import costs a cold
 * start (issue 20): node builds an imported built-in's namespace from every export, reading each getter, and some
 * getters load code. node:http's `WebSocket`, `CloseEvent` and `MessageEvent` load undici on node 22 (about 20 ms
 * where nothing else would load it); node:net's `BlockList` and `SocketAddress` load theirs. Types are imported
 * from the modules as usual: a type import loads nothing. `process.getBuiltinModule` is in node 20.16 and 22.3
 * (package.json's `engines`).
 */
export const nodeHttp = process.getBuiltinModule("node:http");
export const nodeNet = process.getBuiltinModule("node:net");
