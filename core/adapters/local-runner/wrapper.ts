import { createHash } from "node:crypto";

/** What the runner hands the wrapper on its stdin: never on disk, because `env` holds the task's secrets. */
export interface WrapperInput {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  timeoutSeconds: number;
  killGraceSeconds: number;
  maxLogBytes: number;
}

/**
 * The program that stands between a task and the runner, the local counterpart of a kubelet for one container.
 * Started detached as `node wrapper.cjs <jobDir>`, it leads the task's process group and outlives the control
 * plane. It execs the argv it reads as JSON from stdin (no shell, so no value is ever parsed as code), keeps the
 * log's tail, enforces the deadline, turns a SIGTERM to the group into SIGKILL after the grace period, and
 * writes exit.json when the task ends. Plain CommonJS with no dependencies, because it runs outside the
 * project: its text is constant and is written to the data directory under a name made from its hash.
 */
export const WRAPPER_SOURCE = String.raw`"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { spawn } = require("node:child_process");

const dir = process.argv[2];
const at = (name) => path.join(dir, name);
const aside = (name) => at("." + name + "." + process.pid + ".tmp");

function writeAtomic(name, data) {
  fs.writeFileSync(aside(name), data, { mode: 0o600 });
  fs.renameSync(aside(name), at(name));
}
function writeOnce(name, data) {
  fs.writeFileSync(aside(name), data, { mode: 0o600 });
  try {
    fs.linkSync(aside(name), at(name));
  } catch (error) {
    if (error.code !== "EEXIST") throw error;
  } finally {
    fs.unlinkSync(aside(name));
  }
}
// Started detached, this process leads a group that holds the task and everything it spawns.
function signalGroup(signal) {
  try {
    process.kill(-process.pid, signal);
  } catch {}
}

writeAtomic("pid", String(process.pid));

let finished = false;
function finish(outcome) {
  if (finished) return;
  finished = true;
  writeOnce("exit.json", JSON.stringify(Object.assign({ at: new Date().toISOString() }, outcome)));
  // Like a container's end: nothing the task left running in its group outlives it (this process included).
  signalGroup("SIGKILL");
  process.exit(0);
}

let log;
let logSize = 0;
let maxLogBytes = 10 * 1024 * 1024;
function openLog() {
  log = fs.openSync(at("log"), "a", 0o600);
  logSize = fs.fstatSync(log).size;
}
function appendLog(chunk) {
  fs.writeSync(log, chunk);
  logSize += chunk.length;
  if (logSize > maxLogBytes) keepTail();
}
// Keeps the newer half, from a line start, so the log stays under maxLogBytes without rewriting it per chunk.
function keepTail() {
  const keep = Math.floor(maxLogBytes / 2);
  const buffer = Buffer.alloc(keep);
  const reader = fs.openSync(at("log"), "r");
  const read = fs.readSync(reader, buffer, 0, keep, Math.max(0, logSize - keep));
  fs.closeSync(reader);
  let tail = buffer.subarray(0, read);
  const newline = tail.indexOf(10);
  if (newline >= 0 && newline < tail.length - 1) tail = tail.subarray(newline + 1);
  const marker = Buffer.from("[hookflow: earlier output was cut]\n");
  writeAtomic("log", Buffer.concat([marker, tail]));
  fs.closeSync(log);
  openLog();
}

let escalation;
let graceSeconds = 5;
// A SIGTERM to the group reaches this process too: let the task end on its own, then force it.
function onStopSignal() {
  if (escalation) return;
  escalation = setTimeout(() => finish({ signal: "SIGKILL" }), graceSeconds * 1000);
}
for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(signal, onStopSignal);

process.on("uncaughtException", (error) => {
  // Recording the end failed too: at least take the task down with this process, never leave it unwatched.
  if (finished) return signalGroup("SIGKILL");
  try {
    if (log !== undefined) fs.writeSync(log, "[hookflow: the task's wrapper failed: " + error.message + "]\n");
  } finally {
    finish({ error: "the local runner's wrapper failed: " + error.message });
  }
});

function startError(command, error) {
  if (error.code === "ENOENT") return "could not start: executable " + JSON.stringify(command) + " not found";
  if (error.code === "EACCES") return "could not start: " + JSON.stringify(command) + " is not executable";
  return "could not start " + JSON.stringify(command) + ": " + error.message;
}

function start(input) {
  maxLogBytes = input.maxLogBytes;
  graceSeconds = input.killGraceSeconds;
  openLog();
  if (escalation || fs.existsSync(at("stop.json"))) return finish({ error: "stopped before it started" });
  let child;
  try {
    child = spawn(input.argv[0], input.argv.slice(1), {
      cwd: input.cwd,
      env: input.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (error) {
    return finish({ error: startError(input.argv[0], error) });
  }
  child.on("error", (error) => finish({ error: startError(input.argv[0], error) }));
  child.stdout.on("data", appendLog);
  child.stderr.on("data", appendLog);
  let ended;
  child.on("exit", (code, signal) => {
    ended = { code, signal };
    // A background process may hold the pipes open; the task has ended all the same.
    setTimeout(() => finish(ended), 1000);
  });
  child.on("close", (code, signal) => finish(ended || { code, signal }));
  setTimeout(
    () => {
      writeOnce("stop.json", JSON.stringify({ reason: "deadline", at: new Date().toISOString() }));
      signalGroup("SIGTERM");
    },
    Math.min(input.timeoutSeconds * 1000, 2147483647),
  );
}

const chunks = [];
process.stdin.on("data", (chunk) => chunks.push(chunk));
process.stdin.on("error", () => {});
process.stdin.on("close", () => {
  let input;
  try {
    input = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    // The control plane stopped while handing the task over: record it, never leave a silent pid.
    return finish({ error: "the control plane stopped before the task was handed over" });
  }
  start(input);
});
`;

/** The file name the wrapper is written under: a new text never replaces one that running tasks use. */
export const wrapperFileName = () =>
  `wrapper-${createHash("sha256").update(WRAPPER_SOURCE).digest("hex").slice(0, 12)}.cjs`;
