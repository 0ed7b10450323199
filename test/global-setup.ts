import type { TestProject } from "vitest/node";
import { type RunningEmulator, startDynamoLocal, startSqsEmulator } from "../infra/local/emulators.js";

/** Starts DynamoDB Local (in memory) and the SQS emulator once for the whole test run. */
export default async function setup(project: TestProject) {
  const emulators: RunningEmulator[] = [];
  try {
    const [dynamo, sqs] = await Promise.all([startDynamoLocal(), startSqsEmulator()]);
    emulators.push(dynamo, sqs);
    project.provide("dynamoEndpoint", dynamo.endpoint);
    project.provide("sqsEndpoint", sqs.endpoint);
  } catch (error) {
    await Promise.all(emulators.map((e) => e.stop()));
    throw error;
  }
  return async () => {
    await Promise.all(emulators.map((e) => e.stop()));
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    dynamoEndpoint: string;
    sqsEndpoint: string;
  }
}
