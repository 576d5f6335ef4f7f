/**
 * The sidecar's only script, served as /_guard/assets/guard.js (no inline script: the CSP forbids
 * it). Every page works without it; it only adds comfort: the resend button counts down the
 * seconds until a new code may be sent, a code field submits itself once all digits are in, and
 * copy buttons (hidden until this script shows them) copy the TOTP key and the recovery codes.
 * Plain ES2020, no framework. Its words come from data- attributes the pages render in their
 * language.
 */
export const GUARD_JS = `'use strict';
(() => {
  const ready = (fn) => (document.readyState === 'loading' ? document.addEventListener('DOMContentLoaded', fn) : fn());

  // The resend button stays usable without this script; the server refuses a resend too soon.
  // The seconds are shown beside the label, hidden from screen readers (a number read out every
  // second is noise), so the button keeps its name and is announced as unavailable meanwhile.
  const countdown = (button) => {
    let left = Number(button.dataset.resendAfter);
    if (!Number.isFinite(left) || left <= 0) return;
    left = Math.min(Math.ceil(left), 3600);
    const template = button.dataset.countdown || '({s})';
    const timer = document.createElement('span');
    timer.setAttribute('aria-hidden', 'true');
    timer.className = 'countdown';
    button.append(timer);
    button.disabled = true;
    const tick = () => {
      if (left <= 0) {
        button.disabled = false;
        timer.remove();
        return;
      }
      timer.textContent = ' ' + template.replace('{s}', String(left));
      left -= 1;
      setTimeout(tick, 1000);
    };
    tick();
  };

  // Submits the code's form once the expected number of digits is in (typed or pasted),
  // with its first submit button, which is the "verify" one.
  const autoSubmit = (input) => {
    const digits = Number(input.dataset.autosubmit);
    const form = input.form;
    if (!form || !Number.isInteger(digits) || digits <= 0) return;
    const pattern = new RegExp('^[0-9]{' + digits + '}$');
    let sent = false;
    input.addEventListener('input', () => {
      const value = input.value.replace(/\\s+/g, '');
      if (sent || !pattern.test(value)) return;
      sent = true;
      input.value = value;
      const submit = form.querySelector('button[type="submit"]:not([formnovalidate])');
      if (typeof form.requestSubmit === 'function') form.requestSubmit(submit || undefined);
      else form.submit();
    });
  };

  const copyText = async (text) => {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return;
    }
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.className = 'offscreen';
    document.body.appendChild(area);
    area.select();
    document.execCommand('copy');
    area.remove();
  };

  const copyButton = (button) => {
    const target = document.getElementById(button.dataset.copy || '');
    if (!target) return;
    const label = button.textContent;
    button.hidden = false;
    button.addEventListener('click', () => {
      const items = target.querySelectorAll('code');
      const text = items.length > 1 ? Array.from(items, (c) => c.textContent.trim()).join('\\n') : target.textContent.trim();
      copyText(text).then(
        () => {
          button.textContent = button.dataset.copied || label;
          setTimeout(() => (button.textContent = label), 2000);
        },
        () => {},
      );
    });
  };

  ready(() => {
    document.querySelectorAll('button[data-resend-after]').forEach(countdown);
    document.querySelectorAll('input[data-autosubmit]').forEach(autoSubmit);
    document.querySelectorAll('button[data-copy]').forEach(copyButton);
  });
})();
`;
