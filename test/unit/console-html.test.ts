import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Child, escapeHtml, Fragment, Html, h } from "../../functions/console/html.js";

/** What a browser reads back from escaped text: the five entities escapeHtml writes, and nothing else. */
const readBack = (html: string) =>
  html.replace(/&(amp|lt|gt|quot|#39);/g, (_, name: string) =>
    name === "amp" ? "&" : name === "lt" ? "<" : name === "gt" ? ">" : name === "quot" ? '"' : "'",
  );

const render = (tag: Parameters<typeof h>[0], props: Record<string, unknown> | null, ...children: Child[]) =>
  String(h(tag, props, ...children));

describe("the console's JSX", () => {
  it("escapes every text child and attribute value, whatever it holds: nothing can open a tag or leave a quote", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), fc.string({ unit: "binary" }), (text, value) => {
        const html = render("p", { title: value }, text);
        const match = /^<p title="([^"]*)">([^<]*)<\/p>$/.exec(html);
        expect(match, html).not.toBeNull();
        expect(readBack(match?.[1] ?? "")).toBe(value);
        expect(readBack(match?.[2] ?? "")).toBe(text);
        expect(match?.[1]).not.toMatch(/[<>'"]|&(?!(amp|lt|gt|quot|#39);)/);
        expect(match?.[2]).not.toMatch(/[<>'"]|&(?!(amp|lt|gt|quot|#39);)/);
      }),
    );
    expect(render("a", { href: `/runs/x" onclick="alert(1)` }, "<script>alert(1)</script>")).toBe(
      '<a href="/runs/x&quot; onclick=&quot;alert(1)">&lt;script&gt;alert(1)&lt;/script&gt;</a>',
    );
    expect(escapeHtml(`&<>"'`)).toBe("&amp;&lt;&gt;&quot;&#39;");
  });

  it("inserts markup it made as is, and escapes text that only looks like markup", () => {
    const inner = h("strong", null, "a < b");
    expect(render("p", null, inner, " & ", "<em>not markup</em>")).toBe(
      "<p><strong>a &lt; b</strong> &amp; &lt;em&gt;not markup&lt;/em&gt;</p>",
    );
    // Only an Html is trusted: an object that merely says it is escaped is refused, not inserted.
    const forged = Object.assign(new String("<script>alert(1)</script>"), { isEscaped: true });
    expect(() => render("p", null, forged as unknown as Child)).toThrow(TypeError);
  });

  it("writes nothing for false, true, null and undefined, numbers as they are, and lists in order", () => {
    expect(
      render("ul", null, [false, null, undefined, true, [h("li", null, 1), [h("li", null, 2.5)]], 0]),
    ).toBe("<ul><li>1</li><li>2.5</li>0</ul>");
  });

  it("writes true as a bare attribute and leaves out false, null and undefined", () => {
    expect(
      render("input", { checked: true, required: false, name: undefined, value: null, maxlength: 256 }),
    ).toBe('<input checked="" maxlength="256"/>');
  });

  it("closes void elements itself and refuses content in them", () => {
    expect(render("meta", { charset: "utf-8" })).toBe('<meta charset="utf-8"/>');
    expect(render("script", { src: "/a.js" })).toBe('<script src="/a.js"></script>');
    expect(() => render("input", null, "text")).toThrow(/has no content/);
  });

  it("refuses values it cannot write safely: objects and functions as attributes, names it does not know as names", () => {
    expect(() => render("a", { href: { toString: () => "javascript:alert(1)" } })).toThrow(TypeError);
    expect(() => render("a", { onclick: () => 1 })).toThrow(TypeError);
    expect(() => render("a", { href: new Html("x") })).toThrow(TypeError);
    expect(() => render("a", { 'x"y': "1" })).toThrow(/not an attribute name/);
    expect(() => render("a", { "data-x y": "1" })).toThrow(/not an attribute name/);
    expect(() => render("img src=x onerror=alert(1)", null)).toThrow(/not a tag name/);
    expect(() => render("p", null, { toString: () => "<b>" } as unknown as Child)).toThrow(TypeError);
  });

  it("calls a component with its props and children, one child as itself, several as a list", () => {
    const seen: unknown[] = [];
    const Echo = (props: Record<string, unknown>) => {
      seen.push(props.children);
      return h("div", { class: String(props.class) }, props.children as Child);
    };
    expect(render(Echo, { class: "x" })).toBe('<div class="x"></div>');
    expect(render(Echo, { class: "y" }, "one")).toBe('<div class="y">one</div>');
    expect(render(Echo, { class: "z" }, "a", h("b", null, "<"))).toBe('<div class="z">a<b>&lt;</b></div>');
    expect(seen[0]).toBeUndefined();
    expect(seen[1]).toBe("one");
    expect(seen[2]).toEqual(["a", new Html("<b>&lt;</b>")]);
    expect(render(Fragment, null, "a", h("i", null), "<")).toBe("a<i></i>&lt;");
  });
});
