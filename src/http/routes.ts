import type { TwoFactorSettings } from '../flows/two-factor-settings.ts';
import type { Site } from '../pages/site.ts';
import type { GuardHttp } from '../server/guard-http.ts';
import { assetRows } from './assets.ts';
import { changeMethodStep, showChangeMethod } from './change-method.ts';
import { disableStep, showDisable } from './disable.ts';
import { enableStep, showEnable } from './enable.ts';
import { setLanguage } from './language.ts';
import { listPasskeys, passkeyCall, signInPasskeyOptions, signInPasskeyVerify, type PasskeyDeps } from './passkey-api.ts';
import { passkeysForm, showPasskeys, stepUpPasskeySubmit, verifyPasskeyForm } from './passkey-pages.ts';
import { recoveryCodesStep, showRecoveryCodes } from './recovery-codes.ts';
import { forgetAllBrowsers, forgetBrowser, forgetBrowserForm, listRememberedBrowsers, revokeRememberedBrowser, type RememberedBrowserRoutesDeps } from './remembered-browsers.ts';
import { requiredTwoFactorStatus, showRequiredTwoFactor, skipRequiredTwoFactor, skipRequiredTwoFactorApi, type RequiredTwoFactorRoutesDeps } from './required-two-factor.ts';
import { mountRoutes, row, type RouteDefinition, type RouteRow } from './route.ts';
import { showOtpHelp, showSecurity } from './security.ts';
import type { SecurityDeps } from './security-steps.ts';
import { listSessions, revokeOtherSessions, revokeOtherSessionsForm, revokeSession, revokeSessionForm, type SessionRoutesDeps } from './sessions.ts';
import { loginApi, loginForm, showLogin, type SignIn } from './sign-in.ts';
import { logoutApi, logoutForm, showLogout } from './sign-out.ts';
import { showNudge, showStepUp, showStepUpDone, snoozeNudgeApi, snoozeNudgeForm, startStepUpApi, stepUpForm, verifyStepUpApi, type StepUpRoutesDeps } from './step-up.ts';
import { twoFactorCall, twoFactorStatus } from './two-factor-api.ts';
import { resendApi, showVerify, verifyApi, verifyForm } from './verify.ts';

/**
 * Every route the sidecar serves itself, in one table (as Authelia's handlers.go): method, path,
 * who may call it, handler. `who` is what the enforcement point enforces before any handler runs:
 * `anyone` (public), `pending` (public; the handler continues the pending sign-in its cookie names)
 * or `session` (a signed-in session; unknown /_guard/ paths are public and answer 404). No route
 * here asks for a fresh verification at the door: the flows that need one (turning 2FA off, adding
 * a passkey) re-check the password or a code in their own steps.
 */

export interface RouteDeps {
  readonly site: Site;
  readonly http: GuardHttp;
  readonly signIn: SignIn;
  readonly settings: TwoFactorSettings;
  readonly security: SecurityDeps;
  readonly stepUp: StepUpRoutesDeps;
  readonly sessions: SessionRoutesDeps;
  readonly remembered: RememberedBrowserRoutesDeps;
  readonly required: RequiredTwoFactorRoutesDeps;
  /** Absent: passkeys are off (config webauthn), and none of their routes exist. */
  readonly passkeys?: PasskeyDeps | undefined;
}

export function routeTable(d: RouteDeps): RouteRow[] {
  const { signIn, security, stepUp, sessions, remembered, required, passkeys } = d;
  const twoFactor = { settings: d.settings, http: d.http };
  return [
    ...assetRows(d.site, { passkeys: passkeys !== undefined }),
    row('GET',    '/_guard/lang',                                  'anyone',  setLanguage, d.http),
    row('GET',    '/_guard/help/otp',                              'anyone',  showOtpHelp, null),

    // sign-in (sign-in.ts), its second step (verify.ts), sign-out (sign-out.ts)
    row('GET',    '/_guard/login',                                 'anyone',  showLogin, signIn),
    row('POST',   '/_guard/login',                                 'anyone',  loginForm, signIn),
    row('POST',   '/_guard/api/login',                             'anyone',  loginApi, signIn),
    row('GET',    '/_guard/verify',                                'pending', showVerify, signIn),
    row('POST',   '/_guard/verify',                                'pending', verifyForm, signIn),
    row('POST',   '/_guard/api/login/verify',                      'pending', verifyApi, signIn),
    row('POST',   '/_guard/api/login/resend',                      'pending', resendApi, signIn),
    row('GET',    '/_guard/logout',                                'anyone',  showLogout, signIn),
    row('POST',   '/_guard/logout',                                'anyone',  logoutForm, signIn),
    row('POST',   '/_guard/api/logout',                            'anyone',  logoutApi, signIn),

    // step-up for sensitive operations (step-up.ts; the gate asking for it is step-up-gate.ts)
    row('GET',    '/_guard/step-up',                               'session', showStepUp, stepUp),
    row('POST',   '/_guard/step-up',                               'session', stepUpForm, stepUp),
    row('GET',    '/_guard/step-up/done',                          'session', showStepUpDone, stepUp),
    row('GET',    '/_guard/step-up/nudge',                         'session', showNudge, stepUp),
    row('POST',   '/_guard/step-up/nudge',                         'session', snoozeNudgeForm, stepUp),
    row('POST',   '/_guard/api/step-up/start',                     'session', startStepUpApi, stepUp),
    row('POST',   '/_guard/api/step-up/verify',                    'session', verifyStepUpApi, stepUp),
    row('POST',   '/_guard/api/step-up/nudge',                     'session', snoozeNudgeApi, stepUp),

    // policy require_2fa (required-two-factor.ts)
    row('GET',    '/_guard/two-factor-required',                   'session', showRequiredTwoFactor, required),
    row('POST',   '/_guard/two-factor-required',                   'session', skipRequiredTwoFactor, required),
    row('GET',    '/_guard/api/2fa/required',                      'session', requiredTwoFactorStatus, required),
    row('POST',   '/_guard/api/2fa/required/skip',                 'session', skipRequiredTwoFactorApi, required),

    // Login & Security pages (security.ts, enable.ts, disable.ts, recovery-codes.ts, change-method.ts)
    row('GET',    '/_guard/security',                              'session', showSecurity, security),
    row('GET',    '/_guard/security/enable',                       'session', showEnable, security),
    row('POST',   '/_guard/security/enable',                       'session', enableStep, security),
    row('GET',    '/_guard/security/disable',                      'session', showDisable, security),
    row('POST',   '/_guard/security/disable',                      'session', disableStep, security),
    row('GET',    '/_guard/security/recovery-codes',               'session', showRecoveryCodes, security),
    row('POST',   '/_guard/security/recovery-codes',               'session', recoveryCodesStep, security),
    row('GET',    '/_guard/security/change',                       'session', showChangeMethod, twoFactor),
    row('POST',   '/_guard/security/change',                       'session', changeMethodStep, twoFactor),

    // the 2FA settings JSON API (two-factor-api.ts)
    row('GET',    '/_guard/api/2fa',                               'session', twoFactorStatus, twoFactor),
    row('POST',   '/_guard/api/2fa/enable/start',                  'session', twoFactorCall('enableStart'), twoFactor),
    row('POST',   '/_guard/api/2fa/enable/identity',               'session', twoFactorCall('enableIdentity'), twoFactor),
    row('POST',   '/_guard/api/2fa/enable/identity/verify',        'session', twoFactorCall('enableIdentityVerify'), twoFactor),
    row('POST',   '/_guard/api/2fa/enable/method',                 'session', twoFactorCall('enableMethod'), twoFactor),
    row('POST',   '/_guard/api/2fa/enable/confirm',                'session', twoFactorCall('enableConfirm'), twoFactor),
    row('POST',   '/_guard/api/2fa/disable/start',                 'session', twoFactorCall('disableStart'), twoFactor),
    row('POST',   '/_guard/api/2fa/disable/verify',                'session', twoFactorCall('disableVerify'), twoFactor),
    row('POST',   '/_guard/api/2fa/disable/confirm',               'session', twoFactorCall('disableConfirm'), twoFactor),
    row('POST',   '/_guard/api/2fa/recovery-codes/start',          'session', twoFactorCall('recoveryStart'), twoFactor),
    row('POST',   '/_guard/api/2fa/recovery-codes/confirm',        'session', twoFactorCall('recoveryConfirm'), twoFactor),
    row('POST',   '/_guard/api/2fa/change/start',                  'session', twoFactorCall('changeStart'), twoFactor),
    row('POST',   '/_guard/api/2fa/change/verify',                 'session', twoFactorCall('changeVerify'), twoFactor),

    // active sessions (sessions.ts)
    row('POST',   '/_guard/security/sessions/revoke',              'session', revokeSessionForm, sessions),
    row('POST',   '/_guard/security/sessions/revoke-others',       'session', revokeOtherSessionsForm, sessions),
    row('GET',    '/_guard/api/sessions',                          'session', listSessions, sessions),
    row('POST',   '/_guard/api/sessions/revoke-others',            'session', revokeOtherSessions, sessions),
    row('POST',   '/_guard/api/sessions/:handle/revoke',           'session', revokeSession, sessions),

    // remembered browsers (remembered-browsers.ts)
    row('POST',   '/_guard/security/remembered-browsers/forget',   'session', forgetBrowserForm, remembered),
    row('GET',    '/_guard/api/remembered-browsers',               'session', listRememberedBrowsers, remembered),
    row('DELETE', '/_guard/api/remembered-browsers',               'session', forgetAllBrowsers, remembered),
    row('POST',   '/_guard/api/remembered-browsers/revoke',        'session', revokeRememberedBrowser, remembered),
    row('DELETE', '/_guard/api/remembered-browsers/:id',           'session', forgetBrowser, remembered),

    // passkeys (passkey-pages.ts, passkey-api.ts), only where config webauthn turns them on
    ...(passkeys
      ? [
          row('GET',    '/_guard/security/passkeys',                    'session', showPasskeys, passkeys),
          row('POST',   '/_guard/security/passkeys',                    'session', passkeysForm, passkeys),
          row('POST',   '/_guard/verify/passkey',                       'pending', verifyPasskeyForm, passkeys),
          row('POST',   '/_guard/step-up/passkey',                      'session', stepUpPasskeySubmit, passkeys),
          row('GET',    '/_guard/api/2fa/passkeys',                     'session', listPasskeys, passkeys),
          row('POST',   '/_guard/api/2fa/passkeys/start',               'session', passkeyCall('start'), passkeys),
          row('POST',   '/_guard/api/2fa/passkeys/verify',              'session', passkeyCall('verify'), passkeys),
          row('POST',   '/_guard/api/2fa/passkeys/register/options',    'session', passkeyCall('registerOptions'), passkeys),
          row('POST',   '/_guard/api/2fa/passkeys/register/verify',     'session', passkeyCall('register'), passkeys),
          row('POST',   '/_guard/api/2fa/passkeys/remove',              'session', passkeyCall('remove'), passkeys),
          row('POST',   '/_guard/api/login/passkey/options',            'pending', signInPasskeyOptions, passkeys),
          row('POST',   '/_guard/api/login/passkey/verify',             'pending', signInPasskeyVerify, passkeys),
          row('POST',   '/_guard/api/step-up/passkey/options',          'session', passkeyCall('stepUpOptions'), passkeys),
          row('POST',   '/_guard/api/step-up/passkey/verify',           'session', passkeyCall('stepUpVerify'), passkeys),
        ]
      : []),
  ];
}

/**
 * What the app mounts: the table, then the entry adapters' own routes (forward-auth,
 * src/entry/forward-auth.ts), which bring their access with them.
 */
export function sidecarRoutes(d: RouteDeps, entries: readonly RouteDefinition[] = []): RouteDefinition[] {
  return [...mountRoutes(routeTable(d)), ...entries];
}

