/**
 * Checks a log line against CloudWatch's embedded metric format specification
 * (docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
 * the root is a JSON object; `_aws` holds `Timestamp` (milliseconds since the epoch, a number) and
 * `CloudWatchMetrics`, an array of directives, each with `Namespace` (a string of 1–255 characters),
 * `Dimensions` (an array of dimension sets: arrays of at most 30 names) and `Metrics` (an array of at most 100
 * definitions: `Name` a string of 1–255 characters, `Unit` one of CloudWatch's units when given,
 * `StorageResolution` 1 or 60 when given); every dimension a directive names is a string member of the root, and
 * every metric a number or an array of at most 100 numbers. Returns what is wrong ([] for a valid document).
 */
export function emfProblems(line: string): string[] {
  const problems: string[] = [];
  let root: unknown;
  try {
    root = JSON.parse(line);
  } catch {
    return ["not JSON"];
  }
  if (!isObject(root)) return ["the root is not an object"];
  const aws = root._aws;
  if (!isObject(aws)) return ["no _aws object"];
  if (typeof aws.Timestamp !== "number" || !Number.isInteger(aws.Timestamp) || aws.Timestamp <= 0)
    problems.push("_aws.Timestamp is not a positive integer of milliseconds");
  if (!Array.isArray(aws.CloudWatchMetrics) || aws.CloudWatchMetrics.length === 0)
    return [...problems, "_aws.CloudWatchMetrics is not a non-empty array"];
  for (const [i, directive] of aws.CloudWatchMetrics.entries()) {
    const at = `_aws.CloudWatchMetrics[${i}]`;
    if (!isObject(directive)) {
      problems.push(`${at} is not an object`);
      continue;
    }
    if (typeof directive.Namespace !== "string" || !/^.{1,255}$/.test(directive.Namespace))
      problems.push(`${at}.Namespace is not a string of 1-255 characters`);
    if (!Array.isArray(directive.Dimensions)) problems.push(`${at}.Dimensions is not an array`);
    else
      for (const [j, set] of directive.Dimensions.entries()) {
        if (!Array.isArray(set) || set.length > 30) {
          problems.push(`${at}.Dimensions[${j}] is not an array of at most 30 names`);
          continue;
        }
        for (const name of set)
          if (typeof name !== "string" || typeof root[name] !== "string")
            problems.push(`${at}.Dimensions[${j}]: ${String(name)} is not a string member of the root`);
      }
    if (!Array.isArray(directive.Metrics) || directive.Metrics.length > 100) {
      problems.push(`${at}.Metrics is not an array of at most 100 definitions`);
      continue;
    }
    for (const [j, metric] of directive.Metrics.entries()) {
      const m = `${at}.Metrics[${j}]`;
      if (!isObject(metric) || typeof metric.Name !== "string" || !/^.{1,255}$/.test(metric.Name)) {
        problems.push(`${m}.Name is not a string of 1-255 characters`);
        continue;
      }
      if (metric.Unit !== undefined && !UNITS.has(String(metric.Unit)))
        problems.push(`${m}.Unit ${String(metric.Unit)} is not a CloudWatch unit`);
      if (metric.StorageResolution !== undefined && ![1, 60].includes(Number(metric.StorageResolution)))
        problems.push(`${m}.StorageResolution is neither 1 nor 60`);
      const value = root[metric.Name];
      const numbers = Array.isArray(value) ? value : [value];
      if (numbers.length === 0 || numbers.length > 100 || !numbers.every((n) => typeof n === "number"))
        problems.push(`${m}: ${metric.Name} is not a number or an array of 1-100 numbers on the root`);
    }
  }
  return problems;
}

/** The metrics of a valid EMF line: name → values, with the line's dimensions. */
export function emfMetrics(line: string) {
  const root = JSON.parse(line) as Record<string, unknown> & {
    _aws: {
      CloudWatchMetrics: Array<{
        Namespace: string;
        Dimensions: string[][];
        Metrics: Array<{ Name: string; Unit?: string }>;
      }>;
    };
  };
  return root._aws.CloudWatchMetrics.flatMap((d) =>
    d.Metrics.map((m) => {
      const value = root[m.Name] as number | number[];
      return {
        namespace: d.Namespace,
        name: m.Name,
        unit: m.Unit,
        values: Array.isArray(value) ? value : [value],
        dimensions: Object.fromEntries(d.Dimensions.flat().map((k) => [k, root[k] as string])),
      };
    }),
  );
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const UNITS = new Set(
  "Seconds Microseconds Milliseconds Bytes Kilobytes Megabytes Gigabytes Terabytes Bits Kilobits Megabits Gigabits Terabits Percent Count Bytes/Second Kilobytes/Second Megabytes/Second Gigabytes/Second Terabytes/Second Bits/Second Kilobits/Second Megabits/Second Gigabits/Second Terabits/Second Count/Second None".split(
    " ",
  ),
);
