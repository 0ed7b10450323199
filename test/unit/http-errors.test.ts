import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../core/adapters/system.js";
import {
  ConflictError,
  ForbiddenError,
  MethodNotAllowedError,
  NotFoundError,
  PermanentError,
  RetryableError,
  TooLargeError,
  UnauthorizedError,
  ValidationError,
  VersionConflictError,
} from "../../core/errors.js";
import { refusalError } from "../../core/services/commands.js";
import { installErrorHandler, limitBody } from "../../functions/http.js";

/** An app whose one route throws `error`, answered by the one error handler every function installs. */
async function answerTo(error: Error) {
  const app = new Hono();
  installErrorHandler(app, silentLogger);
  app.post("/x", () => {
    throw error;
  });
  const res = await app.request("/x", { method: "POST" });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

describe("the one place errors become answers", () => {
  it.each([
    [new ValidationError("bad", [{ path: "a.b", message: "no" }]), 400],
    [new UnauthorizedError("who?"), 401],
    [new ForbiddenError("not you"), 403],
    [new NotFoundError("none"), 404],
    [new MethodNotAllowedError("POST only", ["POST"]), 405],
    [new ConflictError("already", { reason: "TaskTerminal" }), 409],
    [new TooLargeError("too big"), 413],
    [new PermanentError("never"), 422],
    [new RetryableError("later", 7), 503],
    [new VersionConflictError("run r1 changed under every retry", undefined), 503],
    [new Error("a bug"), 500],
  ])("answers %s with %i and the contract's error body", async (error, status) => {
    const answer = await answerTo(error);
    expect(answer.status).toBe(status);
    expect(answer.body.error).toBe(status === 500 ? "internal error" : error.message);
  });

  it("adds what each answer needs: issues, details, Retry-After, Allow, WWW-Authenticate", async () => {
    expect(
      (await answerTo(new ValidationError("bad", [{ path: "a.b", message: "no" }]))).body.issues,
    ).toEqual([{ path: "a.b", message: "no" }]);
    expect((await answerTo(new ConflictError("x", { status: "failed" }))).body.status).toBe("failed");
    expect((await answerTo(new RetryableError("x", 7))).headers.get("retry-after")).toBe("7");
    expect((await answerTo(new VersionConflictError("x", undefined))).headers.get("retry-after")).toBe("1");
    expect((await answerTo(new MethodNotAllowedError("x", ["POST"]))).headers.get("allow")).toBe("POST");
    expect((await answerTo(new UnauthorizedError("x", "Bearer"))).headers.get("www-authenticate")).toBe(
      "Bearer",
    );
  });

  it("refuses a body over its limit with 413 before the route reads it", async () => {
    const app = new Hono();
    installErrorHandler(app, silentLogger);
    let read = false;
    app.post("/x", limitBody(1024, "a test body"), async (c) => {
      read = true;
      return c.text(await c.req.text());
    });
    const res = await app.request("/x", { method: "POST", body: "x".repeat(1025) });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: "a test body is at most 1 KB" });
    expect(read).toBe(false);
    expect((await app.request("/x", { method: "POST", body: "x".repeat(1024) })).status).toBe(200);
  });
});

describe("an engine refusal, as a domain error", () => {
  it.each([
    ["UnknownTask", NotFoundError, 404],
    ["NotAnApprover", ForbiddenError, 403],
    ["TaskTerminal", ConflictError, 409],
    ["RunTerminal", ConflictError, 409],
    ["Duplicate", ConflictError, 409],
  ] as const)("%s is a %s, answered %i", async (reason, kind, status) => {
    const error = refusalError({ reason, message: `because ${reason}` }, { status: "failed" });
    expect(error).toBeInstanceOf(kind);
    const answer = await answerTo(error);
    expect(answer.status).toBe(status);
    expect(answer.body.error).toBe(`because ${reason}`);
    if (kind === ConflictError) expect(answer.body).toMatchObject({ reason, status: "failed" });
  });
});
