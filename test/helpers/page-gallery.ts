import type { PageUi } from '../../src/pages/page-ui.tsx';
import { renderLoginPage } from '../../src/pages/login-page.tsx';
import { renderLogoutPage } from '../../src/pages/logout-page.tsx';
import { renderVerifyPage } from '../../src/pages/verify-page.tsx';
import { renderSecurityPage } from '../../src/pages/security-page.tsx';
import { renderPasskeyPage, type PasskeyPageStep } from '../../src/pages/passkey-page.tsx';
import { renderEnablePage } from '../../src/pages/security-enable-page.tsx';
import type { EnableView } from '../../src/pages/security-enable-view.ts';
import { renderDisablePage, type DisableView } from '../../src/pages/security-disable-page.tsx';
import { renderRecoveryCodesPage, type RecoveryView } from '../../src/pages/recovery-codes-page.tsx';
import { renderNudgePage, renderStepUpDonePage, renderStepUpPage } from '../../src/pages/step-up-page.tsx';
import { renderOtpHelpPage } from '../../src/pages/otp-help-page.tsx';
import { renderErrorPage } from '../../src/pages/error-page.tsx';
import { renderRequiredTwoFactorPage } from '../../src/pages/required-two-factor-page.tsx';
import { renderChangePage } from '../../src/pages/security-change-page.tsx';

/**
 * Every sidecar page in every view, rendered straight from the page functions (no server): the
 * language and accessibility tests walk this list, so a new page or view belongs here.
 */

export const CODES = ['abcd-efgh-jk', '2345-6789-ab'];
export const KEY = 'JBSW Y3DP EHPK 3PXP';

/** Every page in every view: [name, render(ui)]; `message` gives the error and notice shown where a page has them. */
export function pageGallery(message: (ui: PageUi) => { error: string; notice: string }): Array<[string, (ui: PageUi) => string]> {
  const enableViews: EnableView[] = [
    { step: 'password' },
    { step: 'identity', smsOffered: true, maskedEmail: 'm•••@example.com' },
    { step: 'code', channel: 'email', maskedEmail: 'm•••@example.com', phoneOnFile: true },
    { step: 'code', channel: 'sms', maskedEmail: 'm•••@example.com', phoneOnFile: true },
    { step: 'method', methods: ['totp', 'sms', 'email'], phoneOnFile: false, askPhone: true },
    { step: 'totp', key: KEY, qrSvg: '<svg xmlns="http://www.w3.org/2000/svg"/>', otpauthUri: 'otpauth://totp/SmartPush:m?secret=JBSWY3DPEHPK3PXP' },
    { step: 'confirm', method: 'totp', maskedEmail: 'm•••@example.com', phoneOnFile: false },
    { step: 'confirm', method: 'sms', maskedEmail: 'm•••@example.com', phoneOnFile: true },
    { step: 'confirm', method: 'email', maskedEmail: 'm•••@example.com', phoneOnFile: false },
    { step: 'done', method: 'sms', destination: '+1 •••• ••89', recoveryCodes: CODES },
    { step: 'restart', alreadyEnabled: true },
    { step: 'restart', alreadyEnabled: false },
  ];
  const disableViews: DisableView[] = [
    { step: 'password' },
    { step: 'code', method: 'totp', destination: null },
    { step: 'code', method: 'email', destination: 'm•••@example.com' },
    { step: 'confirm' },
    { step: 'restart', notEnabled: true },
    { step: 'restart', notEnabled: false },
  ];
  const recoveryViews: RecoveryView[] = [
    { step: 'start', method: 'totp', destination: null },
    { step: 'start', method: 'sms', destination: '+1 •••• ••89' },
    { step: 'code', method: 'email', destination: 'm•••@example.com' },
    { step: 'codes', recoveryCodes: CODES },
    { step: 'restart', notEnabled: true },
  ];
  const list: Array<[string, (ui: PageUi) => string]> = [
    ['login', (u) => renderLoginPage(u, { csrf: 'c', returnTo: '/', email: 'm@example.com', ...message(u) })],
    ['login with a reset link', (u) => renderLoginPage({ ...u, brand: { ...u.brand, forgotPasswordUrl: '/password/reset' } }, { csrf: 'c', returnTo: '/', ...message(u) })],
    ['verify email, risk, no 2FA', (u) => renderVerifyPage(u, { csrf: 'c', method: 'email', destination: 'm•••@example.com', twoFactor: false, warning: u.t.riskNotice, returnTo: '/', ...message(u) })],
    ['verify sms with 2FA', (u) => renderVerifyPage(u, { csrf: 'c', method: 'sms', destination: '+1 •••• ••89', twoFactor: true, returnTo: '/' })],
    ['step-up with recovery codes', (u) => renderStepUpPage(u, { csrf: 'c', method: 'sms', destination: '+1 •••• ••89', send: { method: 'sms', destination: '+1 •••• ••89', live: true, refused: null, resendAfter: 0, recovery: true }, recovery: true, returnTo: '/', ...message(u) })],
    ['security off warning', (u) => renderSecurityPage(u, { csrf: 'c', email: 'm@example.com', enabled: false, method: null, destination: null, recoveryCodesLeft: null, warning: u.t.noticeDisabled })],
    ['login by username', (u) => renderLoginPage({ ...u, brand: { ...u.brand, identifier: 'username' } }, { csrf: 'c', returnTo: '/', email: 'admin', ...message(u) })],
    ['logout', (u) => renderLogoutPage(u, { csrf: 'c', landing: '/', signedInAs: 'm@example.com' })],
    ['already signed in', (u) => renderLogoutPage(u, { csrf: 'c', landing: '/admin/', signedInAs: 'm@example.com', alreadySignedIn: true })],
    ...(['totp', 'sms', 'email'] as const).map((method): [string, (u: PageUi) => string] => [`verify ${method}`, (u) => renderVerifyPage(u, { csrf: 'c', method, returnTo: '/', resendAfter: 30, ...message(u) })]),
    ['security off', (u) => renderSecurityPage(u, { csrf: 'c', email: 'm@example.com', enabled: false, method: null, destination: null, recoveryCodesLeft: null, ...message(u) })],
    ['security on', (u) => renderSecurityPage(u, { csrf: 'c', email: 'm@example.com', enabled: true, method: 'sms', destination: '+1 •••• ••89', recoveryCodesLeft: 2 })],
    ['security no codes', (u) => renderSecurityPage(u, { csrf: 'c', email: 'm@example.com', enabled: true, method: 'totp', destination: null, recoveryCodesLeft: 0 })],
    ...enableViews.map((view): [string, (u: PageUi) => string] => [`enable ${view.step}`, (u) => renderEnablePage(u, { csrf: 'c', view, resendAfter: 20, ...message(u) })]),
    ...disableViews.map((view): [string, (u: PageUi) => string] => [`disable ${view.step}`, (u) => renderDisablePage(u, { csrf: 'c', view, ...message(u) })]),
    ...recoveryViews.map((view): [string, (u: PageUi) => string] => [`recovery ${view.step}`, (u) => renderRecoveryCodesPage(u, { csrf: 'c', view, ...message(u) })]),
    ...(['totp', 'sms', 'email'] as const).flatMap((method): Array<[string, (u: PageUi) => string]> => [
      [`step-up ${method}`, (u) => renderStepUpPage(u, { csrf: 'c', method, destination: method === 'totp' ? null : 'm•••@example.com', send: null, recovery: method !== 'email', returnTo: '/', ...message(u) })],
      ...(method === 'totp'
        ? []
        : ([
            [`step-up ${method} sent`, (u) => renderStepUpPage(u, { csrf: 'c', method, destination: null, send: { method, destination: null, live: true, refused: null, resendAfter: 10, recovery: false }, recovery: false, returnTo: '/' })],
            [`step-up ${method} refused`, (u) => renderStepUpPage(u, { csrf: 'c', method, destination: 'm•••@example.com', send: { method, destination: 'm•••@example.com', live: false, refused: 'budget', resendAfter: 420, recovery: true }, recovery: true, returnTo: '/' })],
          ] as Array<[string, (u: PageUi) => string]>)),
    ]),
    ['step-up described', (u) => renderStepUpPage(u, { csrf: 'c', method: 'email', destination: 'm•••@example.com', send: null, recovery: false, returnTo: '/', description: u.lang === 'zh-CN' ? '修改用户属于敏感操作。' : 'Changing users is sensitive.' })],
    ['step-up without an address', (u) => renderStepUpPage(u, { csrf: 'c', method: 'email', destination: null, noDestination: true, send: null, recovery: false, returnTo: '/' })],
    ['step-up done', (u) => renderStepUpDonePage(u, { csrf: 'c', continueTo: '/api/contacts/export', back: '/', freshMinutes: 10, nudge: true, description: u.lang === 'zh-CN' ? '此操作会导出您的数据。' : 'This operation exports your data.' })],
    ['step-up done, asked again', (u) => renderStepUpDonePage(u, { csrf: 'c', continueTo: null, back: '/campaigns', freshMinutes: null, nudge: false })],
    ['security by username', (u) => renderSecurityPage({ ...u, brand: { ...u.brand, identifier: 'username', landing: '/home' } }, { csrf: 'c', email: '张伟', enabled: false, method: null, destination: null, recoveryCodesLeft: null })],
    ['nudge', (u) => renderNudgePage(u, { csrf: 'c', returnTo: '/' })],
    // Required two-step verification (policy require_2fa) and changing the method.
    ['required, grace', (u) => renderRequiredTwoFactorPage(u, { csrf: 'c', returnTo: '/dashboard', enableUrl: '/_guard/security/enable?return_to=%2Fdashboard', state: 'grace', skipsLeft: 2, daysLeft: 14 })],
    ['required, grace without limits shown', (u) => renderRequiredTwoFactorPage(u, { csrf: 'c', returnTo: '/', enableUrl: '/_guard/security/enable', state: 'grace', skipsLeft: null, daysLeft: null })],
    ['required, over', (u) => renderRequiredTwoFactorPage(u, { csrf: 'c', returnTo: '/', enableUrl: '/_guard/security/enable', state: 'required', skipsLeft: null, daysLeft: null, ...message(u) })],
    ['required, already on', (u) => renderRequiredTwoFactorPage(u, { csrf: 'c', returnTo: '/', enableUrl: '/_guard/security/enable', state: 'enabled', skipsLeft: null, daysLeft: null })],
    ['required, not needed', (u) => renderRequiredTwoFactorPage(u, { csrf: 'c', returnTo: '/', enableUrl: '/_guard/security/enable', state: 'not_required', skipsLeft: null, daysLeft: null })],
    ['security, required', (u) => renderSecurityPage(u, { csrf: 'c', email: 'm@example.com', enabled: true, method: 'totp', destination: null, recoveryCodesLeft: 10, required: true })],
    ['change method, password', (u) => renderChangePage(u, { csrf: 'c', view: { step: 'password' }, ...message(u) })],
    ['change method, code', (u) => renderChangePage(u, { csrf: 'c', view: { step: 'code', method: 'totp', destination: null } })],
    ['change method, restart', (u) => renderChangePage(u, { csrf: 'c', view: { step: 'restart', notEnabled: true } })],
    ['help', (u) => renderOtpHelpPage(u)],
    // Passkeys (src/pages/passkey-*.tsx)
    ...passkeyGallery(message),
  ];
  for (const [status, error] of [
    [403, 'forbidden'],
    [404, 'not_found'],
    [429, 'too_many_attempts'],
    [500, 'internal_error'],
    [502, 'upstream_unavailable'],
    [503, 'store_unavailable'],
    [504, 'upstream_timeout'],
    [418, 'something_new'],
  ] as const) {
    list.push([`error ${status}`, (u) => renderErrorPage(u, { status, error, requestId: 'abc-1' })]);
  }
  return list;
}


/** The passkey pages and forms: Login & Security › Passkeys, and the passkey form of the code and step-up pages. */
function passkeyGallery(message: (ui: PageUi) => { error: string; notice: string }): Array<[string, (ui: PageUi) => string]> {
  // The person's own names for their keys, in the page's language (the catalogue check reads every word).
  const keysOf = (u: PageUi) => [
    { id: 'k1', name: u.lang === 'zh-CN' ? '工作笔记本' : 'Work laptop', createdAt: '2026-01-02T00:00:00.000Z', lastUsedAt: null },
    { id: 'k2', name: u.lang === 'zh-CN' ? '钥匙串上的密钥' : 'Key on my keyring', createdAt: '2026-01-03T00:00:00.000Z', lastUsedAt: '2026-02-01T00:00:00.000Z' },
  ];
  const view = { options: JSON.stringify({ challenge: 'AAAA', allowCredentials: [{ id: 'k1', type: 'public-key' }] }) };
  const steps: PasskeyPageStep[] = [
    { step: 'two_factor_off' },
    { step: 'password' },
    { step: 'code', method: 'totp', destination: null },
    { step: 'code', method: 'sms', destination: '+1 •••• ••89' },
    { step: 'verified', add: { options: JSON.stringify({ challenge: 'AAAA', user: { id: 'AAAA', name: 'm' } }) } },
    { step: 'verified', add: null },
  ];
  return [
    ...steps.map((step, i): [string, (u: PageUi) => string] => [`passkeys ${step.step} ${i}`, (u) => renderPasskeyPage(u, { csrf: 'c', keys: i === 0 ? [] : keysOf(u), view: step, ...(i === 1 ? message(u) : {}) })]),
    ['verify with a passkey', (u) => renderVerifyPage(u, { csrf: 'c', method: 'totp', returnTo: '/', passkey: view })],
    ['step-up with a passkey', (u) => renderStepUpPage(u, { csrf: 'c', method: 'totp', destination: null, send: null, recovery: true, returnTo: '/', passkey: view })],
    ['step-up passkey only', (u) => renderStepUpPage(u, { csrf: 'c', method: 'totp', destination: null, send: null, recovery: false, returnTo: '/', passkey: view, passkeyOnly: true })],
    ['step-up passkey only, none', (u) => renderStepUpPage(u, { csrf: 'c', method: 'totp', destination: null, send: null, recovery: false, returnTo: '/', passkey: null, passkeyOnly: true, ...message(u) })],
  ];
}
