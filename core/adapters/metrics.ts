import type { MetricPoint, Metrics } from "../ports.js";

export const METRICS_NAMESPACE = "Hookflow";
/**
 * EMF allows 100 values of a metric on a line, and Powertools prints a line of its own (to stdout, not to
 * `write`) the moment a metric holds 100: so at most 99 per line.
 */
const MAX_VALUES_PER_LINE = 99;

/**
 * Metrics in CloudWatch's embedded metric format, serialized by Powertools for AWS Lambda: one JSON line per
 * set of dimensions, written to the function's log, which CloudWatch turns into metrics (no API call, nothing to
 * wait for). `service` (a dimension of every metric) is the function's name; `write` is stdout on Lambda.
 * Powertools is loaded when the first point is added: most first requests (a delivery, a callback, a read of the
 * API) measure nothing, and their cold start does not load it (issue 20). One that does (the scheduler's, whose
 * batch measures its queue age first) starts loading it before its first request, not after its work.
 */
export function emfMetrics(
  service: string,
  write: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
): Metrics {
  let pending: MetricPoint[] = [];
  let powertools: Promise<typeof import("@aws-lambda-powertools/metrics")> | undefined;
  return {
    add: (...points) => {
      pending.push(...points);
      if (powertools) return;
      powertools = import("@aws-lambda-powertools/metrics");
      // Its failure is the flush's to report; until then it must not count as unhandled.
      powertools.catch(() => {});
    },
    flush: async () => {
      const points = pending;
      pending = [];
      if (points.length === 0 || !powertools) return;
      const { MetricUnit, Metrics: PowertoolsMetrics } = await powertools;
      const groups = new Map<string, MetricPoint[]>();
      for (const point of points) {
        const key = JSON.stringify(Object.entries(point.dimensions ?? {}).sort());
        groups.set(key, [...(groups.get(key) ?? []), point]);
      }
      for (const whole of groups.values())
        for (let i = 0; i < whole.length; i += MAX_VALUES_PER_LINE) {
          const group = whole.slice(i, i + MAX_VALUES_PER_LINE);
          // One instance per line: Powertools keeps dimensions per instance, and each line has one set of them.
          const metrics = new PowertoolsMetrics({ namespace: METRICS_NAMESPACE, serviceName: service });
          metrics.addDimensions(group[0]?.dimensions ?? {});
          for (const point of group) metrics.addMetric(point.name, MetricUnit[point.unit], point.value);
          write(JSON.stringify(metrics.serializeMetrics()));
        }
    },
  };
}

/** Where no CloudWatch reads the log (`npm start`, tests that do not look): points are dropped. */
export const discardedMetrics: Metrics = { add: () => {}, flush: async () => {} };
