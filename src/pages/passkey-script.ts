/**
 * The passkey ceremony in the browser, served as /_guard/assets/passkey.js (no inline script: the
 * CSP forbids it; and no fetch: the CSP's connect-src stays 'none'). A passkey form carries the
 * server's options in `data-options`; this script calls navigator.credentials.create() or .get()
 * with them, puts the authenticator's answer (JSON, base64url) into the form's hidden `response`
 * field and submits the form, so the server checks it like any other form (CSRF token included).
 * Passkey forms are rendered `hidden`; the script shows them only where WebAuthn works, and shows
 * the page's "use a code instead" words elsewhere. Plain ES2020, no framework.
 */
export const PASSKEY_JS = `'use strict';
(() => {
  const ready = (fn) => (document.readyState === 'loading' ? document.addEventListener('DOMContentLoaded', fn) : fn());
  const toBuffer = (text) => {
    let s = String(text).replace(/-/g, '+').replace(/_/g, '/');
    while (s.length % 4) s += '=';
    const binary = atob(s);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  };
  const toText = (buffer) => {
    const bytes = new Uint8Array(buffer);
    let binary = '';
    for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
  };
  const supported = () => window.isSecureContext && typeof window.PublicKeyCredential === 'function' && !!navigator.credentials;
  const withIds = (list) => (list || []).map((c) => Object.assign({}, c, { id: toBuffer(c.id) }));

  const answer = (credential) => {
    const r = credential.response;
    const json = {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      clientExtensionResults: typeof credential.getClientExtensionResults === 'function' ? credential.getClientExtensionResults() : {},
      response: { clientDataJSON: toText(r.clientDataJSON) },
    };
    if (credential.authenticatorAttachment) json.authenticatorAttachment = credential.authenticatorAttachment;
    if (r.attestationObject) {
      json.response.attestationObject = toText(r.attestationObject);
      json.response.transports = typeof r.getTransports === 'function' ? r.getTransports() : [];
    } else {
      json.response.authenticatorData = toText(r.authenticatorData);
      json.response.signature = toText(r.signature);
      if (r.userHandle) json.response.userHandle = toText(r.userHandle);
    }
    return json;
  };

  const say = (form, text) => {
    const status = form.dataset.status ? document.getElementById(form.dataset.status) : null;
    if (!status) return;
    // A live region (aria-live="assertive") that is always there, so the words are announced.
    status.textContent = text || '';
    status.className = text ? 'error' : '';
  };

  ready(() => {
    for (const form of document.querySelectorAll('form[data-passkey]')) {
      const fallback = form.dataset.fallback ? document.getElementById(form.dataset.fallback) : null;
      if (!supported()) {
        if (fallback) fallback.textContent = form.dataset.unsupported || fallback.textContent;
        continue;
      }
      if (fallback) fallback.hidden = true;
      form.hidden = false;
      let busy = false;
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        if (busy) return;
        busy = true;
        say(form, '');
        try {
          const options = JSON.parse(form.dataset.options || '{}');
          let credential;
          if (form.dataset.passkey === 'create') {
            const publicKey = Object.assign({}, options, {
              challenge: toBuffer(options.challenge),
              user: Object.assign({}, options.user, { id: toBuffer(options.user.id) }),
              excludeCredentials: withIds(options.excludeCredentials),
            });
            credential = await navigator.credentials.create({ publicKey });
          } else {
            const publicKey = Object.assign({}, options, { challenge: toBuffer(options.challenge), allowCredentials: withIds(options.allowCredentials) });
            credential = await navigator.credentials.get({ publicKey });
          }
          if (!credential) throw new Error('no credential');
          form.elements.namedItem('response').value = JSON.stringify(answer(credential));
          HTMLFormElement.prototype.submit.call(form);
        } catch (error) {
          busy = false;
          say(form, form.dataset.cancelled);
        }
      });
    }
  });
})();
`;
