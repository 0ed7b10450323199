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
  const chain = new Map<TracedRequest, number>();
  for (const request of done)
    chain.set(
      request,
      1 + Math.max(0, ...done.filter((before) => before.end <= request.start).map((b) => chain.get(b) ?? 0)),
    );
  let inFlight = 0;
  let reached = Number.NEGATIVE_INFINITY;
  for (const { start, end } of done) {
    inFlight += Math.max(0, end - Math.max(start, reached));
    reached = Math.max(reached, end);
  }
  const beforeFirst = (done[0]?.start ?? answeredMs) - importedMs;
  return {
    requests: requests.length,
    roundTrips: Math.max(0, ...chain.values()),
    beforeFirst,
    inFlight,
    rest: answeredMs - importedMs - beforeFirst - inFlight,
  };
}
