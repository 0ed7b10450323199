/** One HTTP request of a sample, in milliseconds since its process began (bench/request-trace.mjs). */
export type TracedRequest = { start: number; end?: number };

/**
 * A sample's main route as its requests show it: how many, how many of them one after another (the longest chain
 * in which each starts after the one before it has its response), and the route's time (import to answer) split
 * into before the first request, with a request in flight, and the rest (work between responses and requests).
 */
export function routeShape(requests: TracedRequest[], importedMs: number, answeredMs: number) {
  const done = requests
    .filter((r): r is Required<TracedRequest> => r.end !== undefined)
    .sort((a, b) => a.start - b.start);
  let inFlight = 0;
  let reached = Number.NEGATIVE_INFINITY;
  for (const { start, end } of done) {
    inFlight += Math.max(0, end - Math.max(start, reached));
    reached = Math.max(reached, end);
  }
  const beforeFirst = (done[0]?.start ?? answeredMs) - importedMs;
  return {
    requests: requests.length,
    roundTrips: roundTrips(done),
    beforeFirst,
    inFlight,
    rest: answeredMs - importedMs - beforeFirst - inFlight,
  };
}

/**
 * The round trips the requests took in turn: the longest chain of requests each of which started once the one
 * before it had ended (requests side by side count once). Also the integration tests' count (test/helpers/aws.ts).
 */
export function roundTrips(requests: ReadonlyArray<{ start: number; end: number }>): number {
  const inOrder = [...requests].sort((a, b) => a.start - b.start);
  const chain: number[] = [];
  inOrder.forEach((request, i) => {
    const before = inOrder
      .slice(0, i)
      .flatMap((other, j) => (other.end <= request.start ? [chain[j] ?? 0] : []));
    chain[i] = 1 + Math.max(0, ...before);
  });
  return Math.max(0, ...chain);
}
