/**
 * Text from outside (commit subjects, authors, branch names, failure messages) inserted into a robot's markdown.
 * DingTalk's and WeCom's markdown dialects document no escape character: a backslash is shown as it is. So each
 * character that could open markup there is replaced by its full-width twin, which reads the same and means
 * nothing: `[`/`]` (links, images), `<`/`>` (`<font>`, WeCom's `<@userid>` mention, a quote at a line's start),
 * `*`, `_`, `~` and `` ` `` (emphasis, strike, code). Line breaks become spaces so that a value cannot start a
 * line of its own (a heading, a quote, a list).
 */
const MARKUP = /[[\]<>*_~`]/g;
// C0 and C1 controls and the line and paragraph separators; a tab is a space too.
const BREAKS = /[\p{Cc}\u2028\u2029]+/gu;
const FULL_WIDTH_OFFSET = 0xfee0;

export function inertMarkdown(text: string): string {
  return text
    .replace(BREAKS, " ")
    .replace(MARKUP, (char) => String.fromCharCode(char.charCodeAt(0) + FULL_WIDTH_OFFSET));
}
