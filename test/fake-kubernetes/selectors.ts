import { badRequest } from "./status.js";

type Requirement = (labels: Record<string, string>) => boolean;

/**
 * Equality-based label selectors, as list requests send them: `a=b`, `a==b`, `a!=b`, `a`, `!a`, joined by
 * commas. Set-based ones (`a in (b,c)`) are refused with 400 rather than silently matching everything.
 */
export function parseLabelSelector(selector: string | undefined): Requirement {
  if (!selector) return () => true;
  const requirements = selector.split(",").map((part): Requirement => {
    const term = part.trim();
    if (/\s(in|notin)\s/.test(term) || term.includes("("))
      throw badRequest(`the fake API server does not support set-based selectors: "${term}"`);
    const notEqual = /^([^!=]+)!=(.*)$/.exec(term);
    if (notEqual) return (labels) => labels[notEqual[1] as string] !== notEqual[2];
    const equal = /^([^!=]+)==?(.*)$/.exec(term);
    if (equal) return (labels) => labels[equal[1] as string] === equal[2];
    if (term.startsWith("!")) return (labels) => !(term.slice(1) in labels);
    if (term === "") throw badRequest(`invalid selector: "${selector}"`);
    return (labels) => term in labels;
  });
  return (labels) => requirements.every((matches) => matches(labels));
}
