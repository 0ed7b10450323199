// BENCH_TRACE=1 (bench/cold-start.ts): loaded with --import into every sample's process, before the harness. Times
// each HTTP request the process makes, from its start to the end of its response (node:diagnostics_channel, the
// same for node:http and node:https, so for the SDK's clients and the Kubernetes client alike), and writes them,
// with the milliseconds since the process began, as one line on stderr when the process exits.
import { subscribe } from "node:diagnostics_channel";
import { writeSync } from "node:fs";

const requests = [];
const started = new WeakMap();
subscribe("http.client.request.start", ({ request }) => {
  const entry = { start: performance.now() };
  started.set(request, entry);
  requests.push(entry);
});
subscribe("http.client.response.finish", ({ request }) => {
  const entry = started.get(request);
  if (entry) entry.end = performance.now();
});
process.on("exit", () => writeSync(2, `\nrequest-trace ${JSON.stringify(requests)}\n`));
