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
@media (max-width: 480px) { .card { margin: 0; min-height: 100vh; border-radius: 0; } }
`;
