import { byteLength, LIMITS, type OutputsInput, VARIABLE_NAME } from "../model/index.js";

const LINE = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/;

/**
 * Outputs from a callback object or a termination message. Lines that are not `KEY=VALUE` are ignored: with
 * FallbackToLogsOnError a failed container's message is the tail of its log.
 */
export function parseOutputs(input: OutputsInput): Record<string, string> {
  if (typeof input !== "string")
    return Object.fromEntries(Object.entries(input).filter(([key]) => VARIABLE_NAME.test(key)));
  const outputs: Record<string, string> = {};
  for (const line of input.split(/\r?\n/)) {
    const match = LINE.exec(line);
    if (match) outputs[match[1] as string] = match[2] as string;
  }
  return outputs;
}

export function outputBytes(outputs: Record<string, string>): number {
  let total = 0;
  for (const [key, value] of Object.entries(outputs)) total += byteLength(key) + byteLength(value);
  return total;
}

/** A message when outputs are over a limit; outputs are never cut silently. */
export function outputsProblem(
  taskOutputs: Record<string, string>,
  runOutputBytes: number,
): string | undefined {
  const bytes = outputBytes(taskOutputs);
  if (bytes > LIMITS.outputBytesPerTask)
    return `outputs are ${bytes} bytes; a task may report at most ${LIMITS.outputBytesPerTask}`;
  if (runOutputBytes > LIMITS.outputBytesPerRun)
    return `the run's outputs would be ${runOutputBytes} bytes; a run may hold at most ${LIMITS.outputBytesPerRun}`;
  return undefined;
}
