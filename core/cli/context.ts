import { InvalidArgumentError } from "commander";
import { HookflowClient } from "./client.js";
import { resolveConfig } from "./config.js";
import { type Style, style } from "./render.js";

export interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Everything the CLI touches outside itself, so that a test can run it in-process. */
export interface CliIo {
  stdout: Output;
  stderr: Output;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  fetch: typeof fetch;
  sleep(ms: number): Promise<void>;
  now(): number;
  /** The OS user name, the last default of `--by`. */
  userName(): string | undefined;
  /** Between polls of `--watch` and `--follow` (default 1000). */
  pollMs?: number;
}

/** What a command's action works with; built when the action runs, so that bad configuration is its error. */
export interface Context {
  io: CliIo;
  client: HookflowClient;
  style: Style;
  /** Whether stdout is a terminal that can be redrawn. */
  live: boolean;
  pollMs: number;
  out(line?: string): void;
  err(line: string): void;
  json(value: unknown): void;
}

export interface CommandEnv {
  context(): Context;
  setExitCode(code: number): void;
}

export function createContext(io: CliIo): Context {
  const config = resolveConfig(io.env, io.cwd);
  const live = io.stdout.isTTY === true;
  // https://no-color.org: any non-empty NO_COLOR turns colour off.
  const colour = live && !io.env.NO_COLOR;
  return {
    io,
    client: new HookflowClient({ ...config, fetch: io.fetch }),
    style: style(colour),
    live,
    pollMs: io.pollMs ?? 1000,
    out: (line = "") => io.stdout.write(`${line}\n`),
    err: (line) => io.stderr.write(`${line}\n`),
    json: (value) => io.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
  };
}

/** `--by`'s default: HOOKFLOW_USER, then the OS user. */
export function whoAmI(io: CliIo, given: string | undefined): string | undefined {
  return given || io.env.HOOKFLOW_USER || io.userName() || undefined;
}

export function positiveInt(max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < 1 || n > max)
      throw new InvalidArgumentError(`a whole number from 1 to ${max}`);
    return n;
  };
}

export function keyValue(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const at = value.indexOf("=");
  if (at <= 0) throw new InvalidArgumentError("expected KEY=VALUE");
  return { ...previous, [value.slice(0, at)]: value.slice(at + 1) };
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
