import { createHash } from "node:crypto";

/**
 * The console's only static files, kept here as text so that a Lambda bundle carries them (no file to read at
 * run time, no CDN, no request to another site). Served under a name with their hash: cached for a year.
 */
const CSS = `
:root{--bg:#fff;--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--panel:#f6f8fa;--link:#0550ae;
--ok:#116329;--ok-bg:#dafbe1;--bad:#a40e26;--bad-bg:#ffebe9;--run:#0550ae;--run-bg:#ddf4ff;--wait:#7d4e00;--wait-bg:#fff8c5;--off:#57606a;--off-bg:#eaeef2;
font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;line-height:1.5;color:var(--fg);background:var(--bg)}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--line:#3d444d;--panel:#151b23;--link:#4493f8;
--ok:#3fb950;--ok-bg:#12261e;--bad:#ff7b72;--bad-bg:#2d1215;--run:#58a6ff;--run-bg:#121d2f;--wait:#d29922;--wait-bg:#272115;--off:#9198a1;--off-bg:#212830}}
*{box-sizing:border-box}body{margin:0}a{color:var(--link)}
a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible,summary:focus-visible{outline:3px solid var(--link);outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:var(--bg);padding:4px 8px;z-index:2}
header.top{display:flex;flex-wrap:wrap;gap:.5rem 1.25rem;align-items:center;padding:.6rem 1rem;border-bottom:1px solid var(--line);background:var(--panel)}
header.top .brand{font-weight:700;text-decoration:none;color:var(--fg)}header.top nav{display:flex;gap:1rem}
header.top .who{margin-left:auto;display:flex;gap:.5rem;align-items:center;flex-wrap:wrap;color:var(--muted)}
main{padding:1rem;max-width:80rem;margin:0 auto}h1{font-size:1.35rem;margin:.2rem 0 .6rem;overflow-wrap:anywhere}h2{font-size:1.1rem;margin:1.4rem 0 .5rem}
h3{font-size:1rem;margin:0}code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em}
.badge{display:inline-block;padding:0 .5em;border-radius:1em;font-size:.85rem;font-weight:600;white-space:nowrap;border:1px solid currentColor}
.s-succeeded{color:var(--ok);background:var(--ok-bg)}.s-failed{color:var(--bad);background:var(--bad-bg)}
.s-running,.s-queued{color:var(--run);background:var(--run-bg)}.s-waiting{color:var(--wait);background:var(--wait-bg)}
.s-pending,.s-canceled,.s-skipped{color:var(--off);background:var(--off-bg)}
.summary{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center}
.cause{border:1px solid var(--bad);background:var(--bad-bg);color:var(--fg);padding:.5rem .75rem;border-radius:6px;margin:.75rem 0;overflow-wrap:anywhere}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.75rem 0}dl.facts dt{color:var(--muted)}dl.facts dd{margin:0;overflow-wrap:anywhere}
.graph{display:flex;gap:1rem;overflow-x:auto;padding:.25rem 0 .75rem;list-style:none;margin:0}
.stage{flex:1 0 15rem;min-width:15rem;border:1px solid var(--line);border-radius:8px;padding:.6rem;background:var(--panel);position:relative}
.stage+.stage::before{content:"→";position:absolute;left:-1rem;top:.6rem;width:1rem;text-align:center;color:var(--muted)}
.stage header{display:flex;justify-content:space-between;gap:.5rem;align-items:center;margin-bottom:.4rem}
.tasks{list-style:none;margin:0;padding:0;display:grid;gap:.5rem}
.task{border:1px solid var(--line);border-left-width:4px;border-radius:6px;padding:.45rem .6rem;background:var(--bg)}
.task.s-succeeded{border-left-color:var(--ok)}.task.s-failed{border-left-color:var(--bad)}.task.s-running,.task.s-queued{border-left-color:var(--run)}.task.s-waiting{border-left-color:var(--wait)}
.task{color:var(--fg)}.task .line{display:flex;justify-content:space-between;gap:.5rem;align-items:baseline;flex-wrap:wrap}
.task .meta{color:var(--muted);font-size:.875rem;margin:.15rem 0}.task .msg{font-size:.875rem;margin:.2rem 0;overflow-wrap:anywhere}
.task dl{display:grid;grid-template-columns:max-content 1fr;gap:0 .6rem;font-size:.875rem;margin:.3rem 0}.task dd{margin:0;overflow-wrap:anywhere}
.actions{display:flex;flex-wrap:wrap;gap:.4rem;align-items:center;margin:.4rem 0}
.actions input{flex:1 1 8rem;min-width:0;padding:.35rem;border:1px solid var(--line);border-radius:6px;background:var(--bg);color:var(--fg)}
button,.button{font:inherit;font-size:.9rem;padding:.35rem .8rem;border-radius:6px;border:1px solid var(--line);background:var(--panel);color:var(--fg);cursor:pointer;text-decoration:none;display:inline-block}
button.primary{background:var(--ok);border-color:var(--ok);color:#fff}button.danger{color:var(--bad);border-color:var(--bad)}
@media (prefers-color-scheme:dark){button.primary{color:#0d1117}}
button[disabled]{opacity:.6;cursor:progress}
#notice:empty{display:none}#notice{padding:.5rem .75rem;border-radius:6px;border:1px solid var(--line);background:var(--panel);margin:.5rem 0}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:600;font-size:.875rem}.table-wrap{overflow-x:auto}td ul{margin:0;padding-left:1.1rem}
pre.log{background:#0d1117;color:#e6edf3;padding:.75rem;border-radius:6px;overflow:auto;max-height:60vh;white-space:pre-wrap;overflow-wrap:anywhere;margin:.5rem 0}
form.filters{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:end;margin:.5rem 0 1rem}
form.filters label,form.login label{display:grid;gap:.15rem;font-size:.9rem}
form.filters select,form.filters input,form.login input{font:inherit;padding:.3rem;border:1px solid var(--line);border-radius:6px;background:var(--bg);color:var(--fg)}
form.login{display:grid;gap:.6rem;max-width:24rem}.muted{color:var(--muted)}.inline{display:inline}
nav.attempts{display:flex;gap:.75rem;flex-wrap:wrap}
@media (max-width:40rem){.graph{flex-direction:column;overflow-x:visible}.stage{min-width:0;flex-basis:auto}.stage+.stage::before{content:"↓";left:50%;top:-1.1rem}
main{padding:.75rem}}
`;

const JS = `
const csrf = (document.cookie.split("; ").find((c) => c.startsWith("hookflow_csrf=")) || "").slice(14);
const notice = document.getElementById("notice");
const live = document.getElementById("live");
const say = (text) => { if (notice) notice.textContent = text; };
const TERMINAL = new Set(["succeeded", "failed", "canceled"]);

function clock(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return s + "s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + "m " + String(s % 60).padStart(2, "0") + "s";
  return Math.floor(m / 60) + "h " + String(m % 60).padStart(2, "0") + "m";
}
function tick() {
  for (const el of document.querySelectorAll("[data-since]")) el.textContent = clock(Date.now() - Date.parse(el.dataset.since));
}

let last = null;
let timer = null;
let failures = 0;
async function refresh() {
  if (!live) return;
  const busy = live.contains(document.activeElement) && document.activeElement.tagName === "INPUT" ||
    [...live.querySelectorAll("input")].some((i) => i.value !== "");
  if (busy) return schedule();
  try {
    const answer = await fetch(live.dataset.live, { headers: { accept: "text/html" }, credentials: "same-origin" });
    if (!answer.ok) throw new Error(String(answer.status));
    const html = await answer.text();
    failures = 0;
    if (html !== last) {
      last = html;
      const focused = document.activeElement && document.activeElement.id;
      live.innerHTML = html;
      if (focused) document.getElementById(focused)?.focus();
      tick();
      const status = live.querySelector("[data-run-status]")?.dataset.runStatus;
      if (status) document.title = document.title.replace(/^\\[[a-z]+\\]/, "[" + status + "]");
    }
  } catch (error) {
    failures++;
    say("Live updates paused (" + error.message + "); retrying.");
  }
  schedule();
}
function schedule() {
  clearTimeout(timer);
  const status = live?.querySelector("[data-run-status]")?.dataset.runStatus;
  if (!status) return;
  const follow = !TERMINAL.has(status) || pendingAfterAction > 0;
  if (pendingAfterAction > 0) pendingAfterAction--;
  if (follow) timer = setTimeout(refresh, Math.min(2000 * 2 ** failures, 30000));
}
let pendingAfterAction = 0;

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  event.preventDefault();
  const { action, url, confirm: question } = button.dataset;
  if (question && !window.confirm(question)) return;
  const form = button.closest("[data-form]");
  const comment = form?.querySelector("input[name=comment]")?.value.trim();
  const body = JSON.parse(button.dataset.body || "{}");
  if (comment) body.comment = comment;
  button.disabled = true;
  say(button.dataset.doing || "Working…");
  try {
    const answer = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-hookflow-csrf": csrf },
      body: JSON.stringify(body),
    });
    const result = await answer.json().catch(() => ({}));
    if (!answer.ok) say(result.error ? "Refused: " + result.error : "Failed: HTTP " + answer.status);
    else {
      say(button.dataset.done || action + ": done");
      if (form) for (const input of form.querySelectorAll("input")) input.value = "";
    }
  } catch (error) {
    say("Failed: " + error.message);
  } finally {
    button.disabled = false;
  }
  // A rerun turns a finished run live again: follow it for a few rounds whatever it shows first.
  pendingAfterAction = 3;
  last = null;
  refresh();
});

const log = document.querySelector("pre[data-follow]");
const follow = document.getElementById("follow");
async function followLog() {
  if (!log) return;
  const task = document.getElementById(log.dataset.task);
  const active = task?.dataset.active === "true";
  if (follow?.checked !== false && (active || log.dataset.once === "true")) {
    log.dataset.once = active ? "true" : "false";
    try {
      const answer = await fetch(log.dataset.follow, { credentials: "same-origin" });
      if (answer.ok) {
        const text = await answer.text();
        const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 8;
        if (text !== log.textContent) {
          log.textContent = text;
          if (atEnd) log.scrollTop = log.scrollHeight;
        }
      }
    } catch {}
  }
  setTimeout(followLog, 2000);
}

for (const form of document.querySelectorAll("form[data-confirm]"))
  form.addEventListener("submit", (e) => { if (!window.confirm(form.dataset.confirm)) e.preventDefault(); });

tick();
setInterval(tick, 1000);
if (live) { last = null; schedule(); }
followLog();
`;

const ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="4" cy="8" r="3" fill="#116329"/><circle cx="12" cy="8" r="3" fill="#0550ae"/><path d="M7 8h2" stroke="#57606a" stroke-width="2"/></svg>`;

const hash = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 12);

export const ASSETS: Record<string, { body: string; type: string }> = {
  [`app.${hash(CSS)}.css`]: { body: CSS.trim(), type: "text/css; charset=utf-8" },
  [`app.${hash(JS)}.js`]: { body: JS.trim(), type: "text/javascript; charset=utf-8" },
  [`icon.${hash(ICON)}.svg`]: { body: ICON, type: "image/svg+xml" },
};
export const CSS_PATH = `/console/assets/app.${hash(CSS)}.css`;
export const JS_PATH = `/console/assets/app.${hash(JS)}.js`;
export const ICON_PATH = `/console/assets/icon.${hash(ICON)}.svg`;
