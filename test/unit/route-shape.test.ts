import { describe, expect, it } from "vitest";
import { routeShape } from "../../bench/route-shape.js";

describe("routeShape (bench/cold-start.ts, BENCH_TRACE=1)", () => {
  it("counts requests side by side as one round trip, and requests in turn as one each", () => {
    // The webhook's shape: two reads side by side, then three requests in turn.
    const shape = routeShape(
      [
        { start: 30, end: 45 },
        { start: 31, end: 48 },
        { start: 52, end: 58 },
        { start: 60, end: 66 },
        { start: 70, end: 74 },
      ],
      10,
      80,
    );
    expect(shape).toEqual({ requests: 5, roundTrips: 4, beforeFirst: 20, inFlight: 34, rest: 16 });
  });

  it("counts a request that starts while another is in flight beside it, not after it", () => {
    // The scheduler's first save and its slot's take side by side, then its Job.
    const shape = routeShape(
      [
        { start: 0, end: 10 },
        { start: 5, end: 20 },
        { start: 20, end: 22 },
      ],
      0,
      25,
    );
    expect(shape.roundTrips).toBe(2);
    expect(shape.inFlight).toBe(22);
    expect(shape.rest).toBe(3);
  });

  it("leaves out a request without a response from the chain and the time in flight", () => {
    const shape = routeShape([{ start: 5 }], 0, 30);
    expect(shape).toEqual({ requests: 1, roundTrips: 0, beforeFirst: 30, inFlight: 0, rest: 0 });
  });
});
