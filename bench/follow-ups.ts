/**
 * What following running tasks up costs (core/engine/follow-up.ts), for bench/pipeline-throughput.ts: looks at a
 * run whose Job runs and never calls back, driven one at a time through the real wake-up and scheduler handlers on
 * the emulators, each look's requests counted; and how many looks a run gets when the relay reports its Jobs.
 * The bench prices them per minute a stage runs and per 1,000 runs of tasks that run minutes.
 */
import type { SQSClient } from "@aws-sdk/client-sqs";
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import type { SqsWakeUps } from "../core/adapters/sqs/wake-ups.js";
import { FOLLOW_UP, nextFollowUp } from "../core/engine/follow-up.js";
import type { TaskLaunch } from "../core/model/index.js";
import { type BatchHandler, type PolledQueue, pollOnce } from "../infra/local/queue-poller.js";
import type { MemoryRunner } from "../test/helpers/memory-runner.js";

/** Counts the requests an SDK client sends to one queue (the standard wake-up queue, priced apart from FIFO). */
export function countRequestsTo(
  client: { middlewareStack: { add(middleware: never, options: never): void } },
  queueUrl: string,
) {
  const counted = { requests: 0 };
  type Args = { input: { QueueUrl?: string } };
  client.middlewareStack.add(
    ((next: (args: Args) => Promise<unknown>) => async (args: Args) => {
      if (args.input.QueueUrl === queueUrl) counted.requests++;
      return next(args);
    }) as never,
    { step: "initialize", name: "benchQueueRequests" } as never,
  );
  return counted;
}

/** Messages in a queue in any state (visible, in flight, delayed), read with a client nobody counts. */
export async function queueHolds(sqs: SQSClient, queueUrl: string): Promise<number> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
      ],
    }),
  );
  return Object.values(Attributes ?? {}).reduce((sum, n) => sum + Number(n), 0);
}

/** What the looks used: requests, capacity units, and each function's invocations and billed milliseconds. */
export interface Totals {
  sqsStandard: number;
  sqsFifo: number;
  dynamo: number;
  rru: number;
  wru: number;
  wakeUps: number;
  wakeUpMs: number;
  schedulerLooks: number;
  schedulerLookMs: number;
}

const KEYS = [
  "sqsStandard",
  "sqsFifo",
  "dynamo",
  "rru",
  "wru",
  "wakeUps",
  "wakeUpMs",
  "schedulerLooks",
  "schedulerLookMs",
] as const;

/** `after - before`, each divided by `n`. */
export function difference(before: Totals, after: Totals, n = 1): Totals {
  return Object.fromEntries(KEYS.map((key) => [key, (after[key] - before[key]) / n])) as unknown as Totals;
}

export function sum(a: Totals, b: Totals): Totals {
  return Object.fromEntries(KEYS.map((key) => [key, a[key] + b[key]])) as unknown as Totals;
}

export const NOTHING: Totals = Object.fromEntries(KEYS.map((key) => [key, 0])) as unknown as Totals;

/** The queues and handlers a look goes through; the handlers timed by the caller. */
export interface Looks {
  work: PolledQueue;
  wakeUps: SqsWakeUps;
  /** The uncounted client, to see whether the wake-up queue still holds anything. */
  sqs: SQSClient;
  scheduler: BatchHandler;
  wakeUpHandler: BatchHandler;
  /** Receives that found nothing: Lambda's pollers make them whatever the load, so no look is billed for them. */
  idle: { standard: number; fifo: number };
  /** What hookflow's clients and the timed handlers have used so far, idle receives included. */
  totals: () => Totals;
}

/** What was used so far, idle receives left out. */
export function used(s: Looks): Totals {
  const t = s.totals();
  return { ...t, sqsStandard: t.sqsStandard - s.idle.standard, sqsFifo: t.sqsFifo - s.idle.fifo };
}

export interface LookSetup extends Looks {
  runner: MemoryRunner;
  /** Starts one run of the bench's pipeline through the webhook. */
  start: () => Promise<unknown>;
  /** The relay's report that a Job runs, through `POST /callbacks/relay`. */
  relayRunning: (launch: TaskLaunch) => Promise<void>;
}

export interface LookMeasure {
  /** Requests and capacity units per look, averaged over the looks measured. */
  perLook: Totals;
  looksMeasured: number;
  /** Looks a stage got when the relay reported its Job running at once. */
  relayedLooks: number;
  /** What they used in all (a wake-up that finds the attempt watched is dropped: no reconcile). */
  relayed: Totals;
}

/** Handles what the work queue holds (one message at a time, as alone), until it is empty. */
export async function drainWork(s: Looks): Promise<void> {
  while ((await pollOnce(s.work, s.scheduler, { waitSeconds: 0, max: 1 })).received > 0) {}
  s.idle.fifo++;
}

/** One look: the next wake-up, when it comes due, forwarded by the wake-up function and reconciled. */
async function look(s: Looks): Promise<boolean> {
  const { received } = await pollOnce(s.wakeUps, s.wakeUpHandler, { waitSeconds: 2, max: 1 });
  if (received === 0) s.idle.standard++;
  else await drainWork(s);
  return received > 0;
}

/** Every look the wake-up queue holds, until it holds none (a chain that ended); how many. */
export async function drainLooks(s: Looks): Promise<number> {
  let looks = 0;
  while ((await queueHolds(s.sqs, s.wakeUps.queueUrl)) > 0) if (await look(s)) looks++;
  return looks;
}

/**
 * With the relay first (its chain ends, leaving the queue empty), then without: the second run's looks 2-5 (2, 4,
 * 8 and 16 s after submission) are counted; its first, which records the Job running, is not a steady look.
 */
export async function measureLooks(s: LookSetup, looks = 4): Promise<LookMeasure> {
  const submitted: TaskLaunch[] = [];
  s.runner.onSubmit = (launch) => {
    s.runner.set(launch.jobName, { state: "running" });
    submitted.push(launch);
  };

  await s.start();
  await drainWork(s);
  for (let launch = submitted.shift(); launch; launch = submitted.shift()) await s.relayRunning(launch);
  await drainWork(s);
  const beforeRelayed = used(s);
  const relayedLooks = await drainLooks(s);
  const relayed = difference(beforeRelayed, used(s));

  await s.start();
  await drainWork(s);
  while (!(await look(s))) {}
  const before = used(s);
  for (let measured = 0; measured < looks; ) if (await look(s)) measured++;
  const perLook = difference(before, used(s), looks);
  s.runner.onSubmit = undefined;
  return { perLook, looksMeasured: looks, relayedLooks, relayed };
}

/** The follow-up looks a stage whose tasks run `seconds` gets: every instant up to the one that sees the end. */
export function denseLooks(seconds: number): number {
  let count = 0;
  for (let at = 0; at < seconds * 1000; at = nextFollowUp(0, at)) count++;
  return count;
}

/** Looks a minute in the schedule's tail: what a long-running task costs per minute without the relay. */
export const TAIL_LOOKS_PER_MINUTE = 60 / FOLLOW_UP.everySeconds;

/** Prices, per unit, as bench/pipeline-throughput.ts states them; memory per function in GB. */
export interface LookPrices {
  sqsStandard: number;
  sqsFifo: number;
  rru: number;
  wru: number;
  lambdaRequest: number;
  lambdaGbSecond: number;
  wakeUpGb: number;
  schedulerGb: number;
}

/** What `t` costs in USD. */
export function priced(t: Totals, p: LookPrices): number {
  return (
    t.sqsStandard * p.sqsStandard +
    t.sqsFifo * p.sqsFifo +
    t.rru * p.rru +
    t.wru * p.wru +
    (t.wakeUps + t.schedulerLooks) * p.lambdaRequest +
    ((t.wakeUpMs / 1000) * p.wakeUpGb + (t.schedulerLookMs / 1000) * p.schedulerGb) * p.lambdaGbSecond
  );
}
