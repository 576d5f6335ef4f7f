/**
 * The sidecar's stylesheet, served from /_guard/assets/guard.css (the CSP allows only 'self'
 * styles, and the pages must not depend on a CDN).
 */
export const GUARD_CSS = `
:root { --primary: #2563eb; --text: #111827; --muted: #4b5563; --bg: #f3f4f6; --card: #ffffff; --danger: #b91c1c; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "PingFang SC", "Microsoft YaHei", sans-serif; color: var(--text); background: var(--bg); }
.card { max-width: 28rem; margin: 3rem auto; padding: 2rem; background: var(--card); border-radius: 12px; box-shadow: 0 1px 3px rgba(0,0,0,.12); }
h1 { font-size: 1.5rem; margin: 0 0 1rem; }
.muted { color: var(--muted); font-size: .875rem; }
a { color: var(--primary); }
label { display: block; font-weight: 600; margin: 1rem 0 .25rem; }
input { width: 100%; padding: .625rem .75rem; font-size: 1rem; border: 1px solid #9ca3af; border-radius: 8px; }
input:focus, button:focus, a:focus { outline: 3px solid #93c5fd; outline-offset: 1px; }
button { margin-top: 1.25rem; width: 100%; padding: .75rem; font-size: 1rem; font-weight: 600; color: #fff; background: var(--primary); border: 0; border-radius: 8px; cursor: pointer; }
.error { color: var(--danger); font-weight: 600; }
.secondary, a.button.secondary { color: var(--primary); background: #fff; border: 1px solid var(--primary); }
.danger, a.button.danger { background: var(--danger); color: #fff; }
a.button { display: block; margin-top: 1.25rem; padding: .75rem; text-align: center; font-weight: 600; color: #fff; background: var(--primary); border-radius: 8px; text-decoration: none; }
.notice { color: #065f46; background: #ecfdf5; padding: .5rem .75rem; border-radius: 8px; }
.warning { background: #fffbeb; border: 1px solid #f59e0b; border-radius: 8px; padding: .5rem .75rem; }
.warning p { margin: .25rem 0; }
.steps { color: var(--muted); font-size: .875rem; margin: 0 0 .25rem; }
.steps-list { padding-left: 1.25rem; }
.facts { display: grid; grid-template-columns: minmax(0, 10rem) minmax(0, 1fr); gap: .25rem 1rem; margin: 0 0 1rem; }
.facts dt { font-weight: 600; }
.facts dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }
.codes { columns: 2; padding-left: 1.5rem; font-size: 1.05rem; }
.codes code, code.key { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; letter-spacing: .05em; }
code.key { display: inline-block; margin-top: .25rem; padding: .25rem .5rem; background: var(--bg); border-radius: 6px; word-break: break-all; }
.qr { text-align: center; }
.qr img { width: 200px; height: 200px; }
fieldset.choices { border: 0; margin: 1rem 0 0; padding: 0; }
fieldset.choices legend { font-weight: 600; margin-bottom: .25rem; }
label.choice { display: flex; gap: .75rem; align-items: flex-start; font-weight: 400; margin: .5rem 0; padding: .75rem; border: 1px solid #d1d5db; border-radius: 8px; cursor: pointer; }
label.choice input { width: auto; margin-top: .3rem; }
label.choice:focus-within { outline: 3px solid #93c5fd; }
.choice-text, .choice-warning { display: block; font-size: .875rem; color: var(--muted); }
.choice-warning { color: #92400e; margin-top: .25rem; }
.badge { font-size: .75rem; font-weight: 600; color: #065f46; }
.help-list li { margin: .5rem 0; }
h2 { font-size: 1.125rem; margin: 1.5rem 0 .5rem; }
@media (max-width: 480px) { .card { margin: 0; min-height: 100vh; border-radius: 0; } }
`;
