import { describe, expect, it } from "vitest";
import { ViewGrants } from "../../core/services/view-grants.js";

const at = (iso: string) => ({ now: () => iso });
const MADE = "2026-12-01T10:00:00.000Z";
const grants = new ViewGrants("a-secret-of-at-least-sixteen", at(MADE), 7);
const grantOf = (link: string) => new URL(link).searchParams.get("grant") ?? "";

describe("view grants", () => {
  it("links to the run's page with a grant for that run, valid for the days configured", () => {
    const link = grants.link("https://ci.example.com", "run1");
    expect(link).toMatch(/^https:\/\/ci\.example\.com\/runs\/run1\?grant=\d+\.[A-Za-z0-9_-]{43}$/);
    expect(grants.check("run1", grantOf(link))).toEqual({
      kind: "valid",
      expiresAt: "2026-12-08T10:00:00.000Z",
    });
  });

  it.each([
    ["another run", "run2", (g: string) => g],
    ["a changed expiry", "run1", (g: string) => g.replace(/^\d+/, (n) => String(Number(n) + 86_400))],
    ["a changed MAC", "run1", (g: string) => `${g.slice(0, -1)}${g.endsWith("A") ? "B" : "A"}`],
    ["a cut MAC", "run1", (g: string) => g.slice(0, -2)],
    ["no MAC", "run1", (g: string) => g.split(".")[0] ?? ""],
    ["garbage", "run1", () => "../../etc/passwd"],
  ])("refuses %s", (_what, runId, change) => {
    expect(grants.check(runId, change(grantOf(grants.link("https://x", "run1"))))).toEqual({
      kind: "invalid",
    });
  });

  it("refuses a grant of another hookflow (another secret)", () => {
    const other = new ViewGrants("another-secret-sixteen-chars", at(MADE), 7);
    expect(grants.check("run1", grantOf(other.link("https://x", "run1")))).toEqual({ kind: "invalid" });
  });

  it("says when a grant expired, from the expiry it signed", () => {
    const grant = grantOf(grants.link("https://x", "run1"));
    const later = new ViewGrants("a-secret-of-at-least-sixteen", at("2026-12-08T10:00:00.000Z"), 7);
    expect(later.check("run1", grant)).toEqual({ kind: "expired", expiredAt: "2026-12-08T10:00:00.000Z" });
    const justBefore = new ViewGrants("a-secret-of-at-least-sixteen", at("2026-12-08T09:59:59.000Z"), 7);
    expect(justBefore.check("run1", grant).kind).toBe("valid");
  });
});
