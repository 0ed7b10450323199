/**
 * The console's JSX: elements rendered straight to HTML text, synchronously, as they are built. What a page shows
 * comes from outside (run ids, commit messages, task messages and outputs, pipeline names, log text), so every
 * string child and every attribute value is escaped, with nothing to opt out of: the only unescaped text is
 * markup these functions wrote themselves (`Html`).
 *
 * Why not hono/jsx: it renders every element inside an `AsyncLocalStorage.run` of its own (for `useContext`
 * across awaits in async components, which the console has none of), and the first `run` turns on Node's promise
 * hooks for the whole process, a cost every later promise pays (issue 20, docs/decisions.md §5). A page uses it
 * through the classic runtime's pragmas (`@jsxRuntime classic`, `@jsx h`, `@jsxFrag Fragment`), importing both.
 */

/** Markup made here: inserted as is where a string would be escaped. */
export class Html {
  constructor(private readonly markup: string) {}
  toString(): string {
    return this.markup;
  }
}

/** What may stand between tags: text (escaped), numbers, markup, lists of them; nothing for a boolean or nothing. */
export type Child = Html | string | number | boolean | null | undefined | readonly Child[];
export type FC<P = Record<string, never>> = (props: P) => Html;
export type PropsWithChildren<P = unknown> = P & { children?: Child };

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Text as HTML shows it, in an element or in a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
}

// Elements that have no end tag, written `<meta …/>`.
const VOID_ELEMENTS = new Set([
  "area",
  "base",
  "br",
  "col",
  "embed",
  "hr",
  "img",
  "input",
  "link",
  "meta",
  "source",
  "track",
  "wbr",
]);
// Tag and attribute names are the pages' own literals; anything else is a mistake in a page, refused loudly.
const TAG_NAME = /^[a-z][a-z0-9]*$/;
const ATTRIBUTE_NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

function appendChild(out: string[], child: Child): void {
  if (child === null || child === undefined || typeof child === "boolean") return;
  if (typeof child === "string") out.push(escapeHtml(child));
  else if (typeof child === "number") out.push(String(child));
  else if (child instanceof Html) out.push(child.toString());
  else if (Array.isArray(child)) for (const item of child) appendChild(out, item);
  else throw new TypeError(`a page's child must be text, a number or markup, not ${typeof child}`);
}

/**
 * An attribute as the pages write it: a string (escaped) or a number as its value; `true` as the bare attribute
 * (`checked=""`), `false`, null and undefined as no attribute at all.
 */
function attribute(name: string, value: unknown): string {
  if (!ATTRIBUTE_NAME.test(name)) throw new TypeError(`not an attribute name: ${name}`);
  if (value === null || value === undefined || value === false) return "";
  if (value === true) return ` ${name}=""`;
  if (typeof value === "string") return ` ${name}="${escapeHtml(value)}"`;
  if (typeof value === "number") return ` ${name}="${value}"`;
  throw new TypeError(`attribute ${name} must be text, a number or a boolean, not ${typeof value}`);
}

// What a JSX transform in development mode adds to every element (vitest's): where it was written, not attributes.
const DEVELOPMENT_PROPS = new Set(["__self", "__source"]);

/** The JSX factory: an element's markup, or a component's, called with its props and children. */
export function h(
  tag: string | ((props: Record<string, unknown>) => Html),
  props: Record<string, unknown> | null,
  ...children: Child[]
): Html {
  if (typeof tag === "function")
    return tag(
      children.length === 0
        ? { ...props }
        : { ...props, children: children.length === 1 ? children[0] : children },
    );
  if (!TAG_NAME.test(tag)) throw new TypeError(`not a tag name: ${tag}`);
  const out = [`<${tag}`];
  for (const [name, value] of Object.entries(props ?? {}))
    if (!DEVELOPMENT_PROPS.has(name)) out.push(attribute(name, value));
  if (VOID_ELEMENTS.has(tag)) {
    if (children.length > 0) throw new TypeError(`<${tag}> has no content`);
    out.push("/>");
    return new Html(out.join(""));
  }
  out.push(">");
  appendChild(out, children);
  out.push(`</${tag}>`);
  return new Html(out.join(""));
}

/** `<>…</>`: its children, side by side. */
export function Fragment({ children }: { children?: Child }): Html {
  const out: string[] = [];
  appendChild(out, children);
  return new Html(out.join(""));
}

// What TypeScript checks the pages' JSX against (the classic runtime looks for it under the factory's name).
export declare namespace h {
  namespace JSX {
    type Element = Html;
    interface ElementChildrenAttribute {
      children: unknown;
    }
    interface IntrinsicElements {
      // Values an attribute cannot take (markup, lists) are refused when rendered.
      [tag: string]: { children?: Child; [attribute: string]: Child };
    }
  }
}
