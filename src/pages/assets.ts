/**
 * The sidecar's stylesheet, served from /_guard/assets/guard.css (the CSP allows only 'self'
 * styles, and the pages must not depend on a CDN). The brand colour comes after it from
 * /_guard/assets/brand.css (config `product.primary_color`, checked for contrast with white).
 *
 * Every text colour meets WCAG AA (4.5:1) on the backgrounds it is used on; test/unit/pages-a11y
 * checks the pairs listed in COLOUR_PAIRS, so a new colour here needs a line there too.
 */
export const PALETTE = {
  primary: '#2563eb',
  text: '#111827',
  muted: '#4b5563',
  bg: '#f3f4f6',
  card: '#ffffff',
  danger: '#b91c1c',
  success: '#065f46',
  successBg: '#ecfdf5',
  warningText: '#78350f',
  warningBg: '#fffbeb',
  choiceWarning: '#92400e',
  focus: '#1e3a8a',
  border: '#6b7280',
} as const;

/** Foreground on background, as used below (the primary colour's pairs are checked in config). */
export const COLOUR_PAIRS: ReadonlyArray<readonly [fg: keyof typeof PALETTE, bg: keyof typeof PALETTE]> = [
  ['text', 'card'],
  ['text', 'bg'],
  ['muted', 'card'],
  ['muted', 'bg'],
  ['danger', 'card'],
  ['card', 'danger'],
  ['success', 'successBg'],
  ['success', 'card'],
  ['warningText', 'warningBg'],
  ['text', 'warningBg'],
  ['choiceWarning', 'card'],
  ['primary', 'card'],
  ['card', 'primary'],
];

const p = PALETTE;

export const GUARD_CSS = `
:root { --primary: ${p.primary}; --text: ${p.text}; --muted: ${p.muted}; --bg: ${p.bg}; --card: ${p.card}; --danger: ${p.danger}; --focus: ${p.focus}; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif; color: var(--text); background: var(--bg); overflow-wrap: break-word; }
[hidden] { display: none !important; }
.skip { position: absolute; left: -9999px; top: 0; padding: .5rem 1rem; background: var(--card); color: var(--text); z-index: 10; }
.skip:focus { left: .5rem; top: .5rem; }
.top { max-width: 28rem; margin: 1rem auto 0; padding: 0 1rem; display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; justify-content: space-between; }
.top .product { font-weight: 700; font-size: 1.125rem; }
.top .logo { max-height: 2.5rem; max-width: 12rem; width: auto; height: auto; }
.languages ul { display: flex; gap: .75rem; list-style: none; margin: 0; padding: 0; font-size: .875rem; }
.languages a { color: var(--text); }
.languages [aria-current] { font-weight: 700; }
.card { max-width: 28rem; margin: 1rem auto 3rem; padding: 2rem; background: var(--card); border-radius: 12px; box-shadow: 0 1px 3px rgba(0,0,0,.12); }
h1 { font-size: 1.5rem; margin: 0 0 1rem; }
h2 { font-size: 1.125rem; margin: 1.5rem 0 .5rem; }
.muted { color: var(--muted); font-size: .875rem; }
a { color: var(--primary); text-underline-offset: 2px; }
label { display: block; font-weight: 600; margin: 1rem 0 .25rem; }
input { width: 100%; max-width: 100%; padding: .625rem .75rem; font-size: 1rem; color: var(--text); background: var(--card); border: 1px solid ${p.border}; border-radius: 8px; }
input[aria-invalid="true"] { border: 2px solid var(--danger); }
input:focus-visible, button:focus-visible, a:focus-visible, summary:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
button { margin-top: 1.25rem; width: 100%; padding: .75rem; font: inherit; font-weight: 600; color: #fff; background: var(--primary); border: 1px solid var(--primary); border-radius: 8px; cursor: pointer; }
button:disabled { cursor: not-allowed; opacity: .75; }
.error { color: var(--danger); font-weight: 600; }
.secondary, a.button.secondary { color: var(--primary); background: var(--card); border: 1px solid var(--primary); }
.danger, a.button.danger { background: var(--danger); border-color: var(--danger); color: #fff; }
a.button { display: block; margin-top: 1.25rem; padding: .75rem; text-align: center; font-weight: 600; color: #fff; background: var(--primary); border-radius: 8px; text-decoration: none; }
.notice { color: ${p.success}; background: ${p.successBg}; padding: .5rem .75rem; border-radius: 8px; }
.warning { color: ${p.warningText}; background: ${p.warningBg}; border: 1px solid #b45309; border-radius: 8px; padding: .5rem .75rem; }
.warning p { margin: .25rem 0; }
.steps { color: var(--muted); font-size: .875rem; margin: 0 0 .25rem; }
.steps-list { padding-left: 1.25rem; }
.facts { display: grid; grid-template-columns: minmax(0, 10rem) minmax(0, 1fr); gap: .25rem 1rem; margin: 0 0 1rem; }
.facts dt { font-weight: 600; }
.facts dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }
.codes { columns: 2; column-gap: 2rem; padding-left: 1.75rem; font-size: 1.05rem; }
.codes li { break-inside: avoid; }
.codes code, code.key { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; letter-spacing: .05em; overflow-wrap: anywhere; }
code.key { display: inline-block; max-width: 100%; margin-top: .25rem; padding: .25rem .5rem; background: var(--bg); border-radius: 6px; word-break: break-all; }
.qr { text-align: center; }
.qr img { width: 200px; height: 200px; max-width: 100%; }
fieldset.choices { border: 0; margin: 1rem 0 0; padding: 0; min-width: 0; }
fieldset.choices legend { font-weight: 600; margin-bottom: .25rem; }
label.choice { display: flex; gap: .75rem; align-items: flex-start; font-weight: 400; margin: .5rem 0; padding: .75rem; border: 1px solid ${p.border}; border-radius: 8px; cursor: pointer; }
label.choice input { width: auto; margin-top: .3rem; flex: none; }
label.choice:focus-within { outline: 3px solid var(--focus); outline-offset: 2px; }
.choice-text, .choice-warning { display: block; font-size: .875rem; color: var(--muted); }
.choice-warning { color: ${p.choiceWarning}; margin-top: .25rem; }
.badge { font-size: .75rem; font-weight: 700; color: ${p.success}; }
.badge.off { color: var(--muted); }
.help-list li { margin: .5rem 0; }
details.recovery { margin-top: 1.25rem; }
details.recovery summary { color: var(--primary); cursor: pointer; text-decoration: underline; text-underline-offset: 2px; }
h2.status { font-size: 1.25rem; margin-top: 1rem; }
.code-help { margin-top: 1.25rem; }
.signin-help { margin-top: 1rem; }
.offscreen { position: absolute; left: -9999px; }
.sessions { list-style: none; margin: 0; padding: 0; }
.sessions li { border-top: 1px solid ${p.border}; padding: .5rem 0 1rem; }
.sessions h3 { margin: .5rem 0; font-size: 1rem; }
.sessions form button { margin-top: 0; }
@media (max-width: 480px) {
  .top { margin-top: .5rem; }
  .card { margin: .5rem 0 0; padding: 1.25rem 1rem; border-radius: 0; box-shadow: none; min-height: 100vh; }
  .codes { columns: 1; }
  .facts { grid-template-columns: minmax(0, 1fr); }
  .facts dd { margin-bottom: .5rem; }
}
`;
