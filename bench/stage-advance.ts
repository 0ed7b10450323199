/**
 * stage-advance: how long a finished Job holds up the next stage. BENCH_RUNS (200) runs of a two-stage pipeline,
 * one task each, against the fake Kubernetes API server (test/fake-kubernetes, authorizing from the shipped
 * Roles), DynamoDB Local and the SQS emulator, the scheduler and wake-up handlers polling their queues as on
 * Lambda. Each run's first Job is marked complete by the fake a random time (uniform, 1 s to BENCH_TASK_SECONDS,
 * 45) after its Secret was created; runs start over BENCH_START_SPREAD_SECONDS (60); measured: from that moment to the moment the fake receives the second Job's create.
 *
 * Three sides, one after another, each on its own table, queues and fake:
 * - relay: `hookflow relay` (core/relay) watching the fake and reporting to the callback app in-process;
 * - polling, as deployed: no relay; the follow-up observations (core/engine/follow-up.ts, the one module the
 *   scheduler uses) and the reconciler at the period the SST config deploys (infra/functions.ts);
 * - polling, local stack: the same, with the local stack's reconciler period (infra/local/stack.ts).
 * The relay side has the follow-ups and the reconciler too (they are always deployed); the relay is simply first,
 * and once it reports an attempt running that attempt gets no more follow-ups (core/engine/follow-up.ts).
 *
 * Printed: p50/p99 per side, Kubernetes API requests per task by who made them, and `stage-advance ratio:` =
 * the relay's p99 over a 1 s budget (a watch event itself arrives in a few ms).
 */
import { join } from "node:path";
import { SQSClient } from "@aws-sdk/client-sqs";
import { loadKubeconfig } from "../core/adapters/kubernetes/client.js";
import { createKubernetesRunner } from "../core/adapters/kubernetes/index.js";
import { ensureWakeQueue } from "../core/adapters/sqs/wake-ups.js";
import { silentLogger } from "../core/adapters/system.js";
import { FOLLOW_UP } from "../core/engine/follow-up.js";
import { jobNameFor } from "../core/engine/index.js";
import { Relay } from "../core/relay/relay.js";
import { httpReporter } from "../core/relay/report.js";
import { reconcileAll } from "../core/services/scheduler.js";
import { callbackDeps, schedulerDeps, wakeUpDeps } from "../core/wiring.js";
import { createCallbackApp } from "../functions/callback.js";
import { createSchedulerHandler } from "../functions/scheduler.js";
import { createWakeUpHandler } from "../functions/wake-ups.js";
import { RECONCILE_SCHEDULE } from "../infra/functions.js";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../infra/local/emulators.js";
import { startQueuePoller } from "../infra/local/queue-poller.js";
import { LOCAL_RECONCILE_SECONDS } from "../infra/local/stack.js";
import {
  type FakeKubernetes,
  type RecordedRequest,
  readManifests,
  startFakeKubernetes,
} from "../test/fake-kubernetes/index.js";
import { newRun, pipeline } from "../test/helpers/factories.js";
import { benchSystem, type Emulators, percentile, startEmulators, table } from "./common.js";

const RUNS = Number(process.env.BENCH_RUNS ?? 200);
const TASK_SECONDS = Number(process.env.BENCH_TASK_SECONDS ?? 45);
/** No pod ends sooner after its Job's creation (scheduling, pulling, starting take longer on a real cluster). */
const MIN_TASK_SECONDS = 1;
/** Runs are started over this many seconds, as pushes arrive, not all in one instant. */
const START_SPREAD_SECONDS = Number(process.env.BENCH_START_SPREAD_SECONDS ?? 60);
/** Work-queue pollers side by side: Lambda takes a FIFO queue's message groups in parallel, so more than one. */
const POLLERS = Number(process.env.BENCH_POLLERS ?? 10);
/** BENCH_ONLY=relay,polling: some sides only (a side by its name's first word). */
const ONLY = process.env.BENCH_ONLY?.split(",");
const NAMESPACE = "hookflow";
const SCHEDULER_TOKEN = "bench-scheduler-token";
const RELAY_TOKEN = "bench-relay-token-0123456789abcdef";
const SCHEDULER_USER = "system:serviceaccount:hookflow:hookflow-scheduler";
const RELAY_USER = "system:serviceaccount:hookflow:hookflow-relay";
const INFRA = join(import.meta.dirname, "..", "infra", "kubernetes");

/** `rate(1 minute)` → 60: the reconciler's period as the SST config deploys it. */
function rateSeconds(schedule: string): number {
  const match = /^rate\((\d+) (second|minute|hour)s?\)$/.exec(schedule);
  if (!match) throw new Error(`cannot read the period of ${schedule}`);
  return Number(match[1]) * { second: 1, minute: 60, hour: 3600 }[match[2] as "second" | "minute" | "hour"];
}

interface Side {
  name: string;
  relay: boolean;
  reconcileSeconds: number;
}

const SIDES: Side[] = [
  { name: "relay", relay: true, reconcileSeconds: rateSeconds(RECONCILE_SCHEDULE) },
  { name: "polling, as deployed", relay: false, reconcileSeconds: rateSeconds(RECONCILE_SCHEDULE) },
  { name: "polling, local stack", relay: false, reconcileSeconds: LOCAL_RECONCILE_SECONDS },
];

/**
 * The runs are spread over a few pipelines of the same shape, each allowing the most running tasks a pipeline may
 * (maxRunningTasks 100): several dozen Jobs run at once here, and a run waiting for a pipeline's room would
 * measure the limit, not the stage's advance.
 */
const PIPELINES = Array.from({ length: 4 }, (_, i) =>
  pipeline({
    name: `stage-advance-${i}`,
    maxRunningTasks: 100,
    stages: [
      { name: "build", tasks: [{ name: "build", run: { image: "alpine", command: ["true"] } }] },
      { name: "deploy", tasks: [{ name: "deploy", run: { image: "alpine", command: ["true"] } }] },
    ],
  }),
);

/** A small deterministic generator, so that every side gets the same task durations. */
function durations(count: number): number[] {
  let state = 0x9e3779b9;
  return Array.from({ length: count }, () => {
    state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return (MIN_TASK_SECONDS + (state / 2 ** 32) * (TASK_SECONDS - MIN_TASK_SECONDS)) * 1000;
  });
}

interface Measured {
  latencies: number[];
  requests: { scheduler: number; relay: number };
  tasks: number;
}

async function measure(emulators: Emulators, side: Side, index: number): Promise<Measured> {
  const fake: FakeKubernetes = await startFakeKubernetes({
    startDelayMs: "manual",
    namespace: NAMESPACE,
    authorization: {
      objects: readManifests(INFRA),
      serviceAccounts: {
        [SCHEDULER_TOKEN]: `${NAMESPACE}/hookflow-scheduler`,
        [RELAY_TOKEN]: `${NAMESPACE}/hookflow-relay`,
      },
    },
  });
  const sqs = new SQSClient({
    endpoint: emulators.sqs.endpoint,
    region: LOCAL_REGION,
    credentials: LOCAL_CREDENTIALS,
  });
  const name = `stage-advance-${index}`;
  const wakeUrl = await ensureWakeQueue(sqs, `${name}-wake`, { visibilityTimeoutSeconds: 60 });
  sqs.destroy();
  const runner = await createKubernetesRunner({
    kubeconfig: fake.kubeconfigWith(SCHEDULER_TOKEN),
    namespace: NAMESPACE,
  });
  const { base, clients } = await benchSystem(
    emulators,
    name,
    { runner },
    { HOOKFLOW_WAKE_QUEUE_URL: wakeUrl, HOOKFLOW_RELAY_TOKEN: RELAY_TOKEN, HOOKFLOW_NAMESPACE: NAMESPACE },
  );
  const scheduling = await schedulerDeps(base, { runner, s3Client: clients.s3Client });
  const handler = createSchedulerHandler(scheduling);
  const wakeUps = wakeUpDeps(base);
  const pollers = [
    ...Array.from({ length: POLLERS }, () => startQueuePoller(base.queue, handler, silentLogger, 1)),
    ...Array.from({ length: 2 }, () =>
      startQueuePoller(wakeUps.wakeUps, createWakeUpHandler(wakeUps), silentLogger, 1),
    ),
  ];
  const reconcile = () =>
    void reconcileAll(
      { runs: base.stores.runs, queue: base.queue, clock: base.clock },
      side.reconcileSeconds,
    ).catch(() => undefined);
  const reconciler = setInterval(reconcile, side.reconcileSeconds * 1000);

  let relay: Relay | undefined;
  if (side.relay) {
    const callbacks = createCallbackApp(callbackDeps(base));
    relay = new Relay({
      kubeconfig: loadKubeconfig({ kubeconfig: fake.kubeconfigWith(RELAY_TOKEN) }),
      namespace: NAMESPACE,
      log: silentLogger,
      report: httpReporter({
        url: base.config.HOOKFLOW_PUBLIC_URL,
        token: RELAY_TOKEN,
        log: silentLogger,
        fetch: (input, init) => Promise.resolve(callbacks.request(String(input), init)),
      }),
    });
    await relay.start();
  }

  const wait = durations(RUNS);
  const ids = Array.from({ length: RUNS }, (_, i) => `adv${index}r${i}`);
  const firstJobs = new Map(ids.map((id, i) => [jobNameFor(id, "build", 1), i]));
  const secondJobs = new Map(ids.map((id, i) => [jobNameFor(id, "deploy", 1), i]));
  const completedAt = new Array<number | undefined>(RUNS);
  const latencies: number[] = [];
  const timers = new Set<NodeJS.Timeout>();

  // The fake's requests, read as they come: a first Job's pod starts once its Secret (the task's token) exists,
  // and completes its drawn time after that; a second Job's create is the moment measured.
  let seen = 0;
  // Creates not yet answered (a watch, held open, is never one of them: only POSTs are kept).
  const unanswered: RecordedRequest[] = [];
  const watcher = setInterval(() => {
    for (; seen < fake.requests.length; seen++) {
      const request = fake.requests[seen] as RecordedRequest;
      if (request.method === "POST") unanswered.push(request);
    }
    for (const request of unanswered.splice(0)) {
      if (request.status === undefined) {
        unanswered.push(request);
        continue;
      }
      if (request.status !== 201) continue;
      const body = request.body as {
        metadata?: { name?: string; ownerReferences?: Array<{ name?: string }> };
      };
      if (request.path.endsWith("/secrets")) {
        const jobName = body.metadata?.ownerReferences?.[0]?.name ?? "";
        const first = firstJobs.get(jobName);
        if (first === undefined) continue;
        fake.start(jobName);
        const timer = setTimeout(() => {
          timers.delete(timer);
          fake.complete(jobName);
          completedAt[first] = performance.now();
        }, wait[first]);
        timers.add(timer);
      } else if (request.path.endsWith("/jobs")) {
        const second = secondJobs.get(body.metadata?.name ?? "");
        const done = second === undefined ? undefined : completedAt[second];
        if (done !== undefined) latencies.push(request.at - done);
      }
    }
  }, 20);

  for (const [i, id] of ids.entries()) {
    await base.stores.runs.saveRun(newRun({ id, pipeline: PIPELINES[i % PIPELINES.length] }));
    await base.queue.send([{ runId: id, event: { type: "run.created" }, dedupKey: `created:${id}` }]);
    await new Promise((r) => setTimeout(r, (START_SPREAD_SECONDS * 1000) / RUNS));
    if (i % 50 === 49) process.stdout.write(".");
  }
  const limit =
    performance.now() + (START_SPREAD_SECONDS + TASK_SECONDS + 3 * side.reconcileSeconds + 60) * 1000;
  while (latencies.length < RUNS && performance.now() < limit) await new Promise((r) => setTimeout(r, 200));
  const tasks = 2 * latencies.length;

  clearInterval(watcher);
  clearInterval(reconciler);
  for (const timer of timers) clearTimeout(timer);
  await relay?.stop();
  await Promise.all(pollers.map((p) => p.stop()));
  const by = (user: string) => fake.requests.filter((r) => r.user === user).length;
  const requests = { scheduler: by(SCHEDULER_USER), relay: by(RELAY_USER) };
  await fake.close();
  if (latencies.length < RUNS)
    console.log(`\n${side.name}: only ${latencies.length} of ${RUNS} second Jobs were created in time`);
  return { latencies: latencies.sort((a, b) => a - b), requests, tasks };
}

const emulators = await startEmulators();
try {
  console.log(
    `stage-advance: ${RUNS} two-stage runs per side, the first Job completing ${MIN_TASK_SECONDS}-${TASK_SECONDS} s after its creation, runs started over ${START_SPREAD_SECONDS} s; follow-ups at ${FOLLOW_UP.firstSeconds} s doubling until ${FOLLOW_UP.doublingUntilSeconds} s, then every ${FOLLOW_UP.everySeconds} s`,
  );
  const rows: Array<Record<string, string | number>> = [];
  let relayP99 = 0;
  for (const [i, side] of SIDES.entries()) {
    if (ONLY && !ONLY.includes(side.name.split(",")[0] as string)) continue;
    process.stdout.write(`${side.name} `);
    const m = await measure(emulators, side, i);
    const s = (p: number) => (percentile(m.latencies, p) / 1000).toFixed(2);
    if (side.relay) relayP99 = percentile(m.latencies, 99);
    rows.push({
      side: side.name,
      "reconciler every": `${side.reconcileSeconds} s`,
      "p50 s": s(50),
      "p99 s": s(99),
      "max s": ((m.latencies.at(-1) ?? 0) / 1000).toFixed(2),
      "k8s requests per task (scheduler)": (m.requests.scheduler / m.tasks).toFixed(2),
      "k8s requests per task (relay)": (m.requests.relay / m.tasks).toFixed(2),
    });
    console.log(" done");
  }
  console.log(table(rows));
  console.log(`stage-advance ratio: ${(relayP99 / 1000).toFixed(3)} (the relay's p99 over a 1 s budget)`);
} finally {
  await emulators.stop();
}
