import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import {
  type RunningEmulator,
  startDynamoLocal,
  startS3Emulator,
  startSqsEmulator,
} from "../infra/local/emulators.js";

/** Starts DynamoDB Local (in memory), the SQS emulator and s3rver once for the whole test run. */
export default async function setup(project: TestProject) {
  const emulators: RunningEmulator[] = [];
  const s3Dir = mkdtempSync(join(tmpdir(), "hookflow-s3-"));
  emulators.push({ endpoint: "", stop: async () => rmSync(s3Dir, { recursive: true, force: true }) });
  try {
    const [dynamo, sqs, s3] = await Promise.all([
      startDynamoLocal(),
      startSqsEmulator(),
      startS3Emulator({ dataDir: s3Dir }),
    ]);
    emulators.push(dynamo, sqs, s3);
    project.provide("dynamoEndpoint", dynamo.endpoint);
    project.provide("sqsEndpoint", sqs.endpoint);
    project.provide("s3Endpoint", s3.endpoint);
  } catch (error) {
    await Promise.all(emulators.map((e) => e.stop()));
    throw error;
  }
  return async () => {
    // The data directory goes last, once s3rver no longer writes to it.
    await Promise.all(emulators.slice(1).map((e) => e.stop()));
    await emulators[0]?.stop();
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    dynamoEndpoint: string;
    sqsEndpoint: string;
    s3Endpoint: string;
  }
}
