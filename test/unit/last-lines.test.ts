import { describe, expect, it } from "vitest";
import { lastLines } from "../../core/model/index.js";

describe("a log's last lines", () => {
  it.each([
    ["a\nb\nc\n", 2, "b\nc\n"],
    ["a\nb\nc", 2, "b\nc"],
    ["a\nb\nc\n", 3, "a\nb\nc\n"],
    ["\n\nx\n", 5, "\n\nx\n"],
    ["", 3, ""],
  ])("lastLines(%j, %i) = %j", (text, count, expected) => {
    expect(lastLines(text, count)).toBe(expected);
  });
});
