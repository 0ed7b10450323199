// What Lambda's Node runtime does with a cold container, and no more: import the handler's module (its init),
// invoke the handler once with an event and a context, hand back the answer. bench/cold-start.ts starts this in
// a fresh process per sample and times it from spawn to the answer line, which comes on file descriptor 3
// (stdout is the function's log, as on Lambda). Plain JavaScript, so that nothing but node and the bundle is loaded.
//
//   node bench/lambda-harness.mjs <bundle entry> <event file> <function name>
import { readFileSync, writeSync } from "node:fs";

const [entry, eventFile, functionName] = process.argv.slice(2);
const event = JSON.parse(readFileSync(eventFile, "utf8"));
const { handler } = await import(entry);
const imported = performance.now();
const importCpu = process.cpuUsage();
const context = {
  functionName,
  awsRequestId: "c6af9ac6-7b61-11e6-9a41-93e812345678",
  getRemainingTimeInMillis: () => 10_000,
};
let answer;
try {
  answer = { result: await handler(event, context) };
} catch (error) {
  answer = { errorType: error?.name, errorMessage: error?.message };
}
// Milliseconds since this process began (performance's time origin), as this process saw them.
answer.importedMs = imported;
answer.answeredMs = performance.now();
// CPU time this process used (user and system), which another process's load on the machine hardly changes.
const cpuMs = ({ user, system }) => (user + system) / 1000;
answer.importCpuMs = cpuMs(importCpu);
answer.answerCpuMs = cpuMs(process.cpuUsage());
writeSync(3, `${JSON.stringify(answer)}\n`);
process.exit(0);
