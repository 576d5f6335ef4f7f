import type { TwoFactorSettings } from '../flows/two-factor-settings.ts';
import type { Site } from '../pages/site.ts';
import type { GuardHttp } from './guard-http.ts';
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
 * `public`, `pending` (public to the enforcement point; the handler continues the pending sign-in
 * its cookie names) or `authenticated` (a signed-in session). Unknown /_guard/ paths are public and
 * answer 404. No route asks for a fresh verification at the door: the flows that need one
 * (turning 2FA off, adding a passkey) re-check the password or a code in their own steps.
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
    row('GET',    '/_guard/lang',                                    'public',        setLanguage, d.http),
    row('GET',    '/_guard/help/otp',                                'public',        showOtpHelp, null),

    // sign-in (sign-in.ts), its second step (verify.ts), sign-out (sign-out.ts)
    row('GET',    '/_guard/login',                                   'public',        showLogin, signIn),
    row('POST',   '/_guard/login',                                   'public',        loginForm, signIn),
    row('POST',   '/_guard/api/login',                               'public',        loginApi, signIn),
    row('GET',    '/_guard/verify',                                  'pending',       showVerify, signIn),
    row('POST',   '/_guard/verify',                                  'pending',       verifyForm, signIn),
    row('POST',   '/_guard/api/login/verify',                        'pending',       verifyApi, signIn),
    row('POST',   '/_guard/api/login/resend',                        'pending',       resendApi, signIn),
    row('GET',    '/_guard/logout',                                  'public',        showLogout, signIn),
    row('POST',   '/_guard/logout',                                  'public',        logoutForm, signIn),
    row('POST',   '/_guard/api/logout',                              'public',        logoutApi, signIn),

    // step-up for sensitive operations (step-up.ts; the gate asking for it is step-up-gate.ts)
    row('GET',    '/_guard/step-up',                                 'authenticated', showStepUp, stepUp),
    row('POST',   '/_guard/step-up',                                 'authenticated', stepUpForm, stepUp),
    row('GET',    '/_guard/step-up/done',                            'authenticated', showStepUpDone, stepUp),
    row('GET',    '/_guard/step-up/nudge',                           'authenticated', showNudge, stepUp),
    row('POST',   '/_guard/step-up/nudge',                           'authenticated', snoozeNudgeForm, stepUp),
    row('POST',   '/_guard/api/step-up/start',                       'authenticated', startStepUpApi, stepUp),
    row('POST',   '/_guard/api/step-up/verify',                      'authenticated', verifyStepUpApi, stepUp),
    row('POST',   '/_guard/api/step-up/nudge',                       'authenticated', snoozeNudgeApi, stepUp),

    // policy require_2fa (required-two-factor.ts)
    row('GET',    '/_guard/two-factor-required',                     'authenticated', showRequiredTwoFactor, required),
    row('POST',   '/_guard/two-factor-required',                     'authenticated', skipRequiredTwoFactor, required),
    row('GET',    '/_guard/api/2fa/required',                        'authenticated', requiredTwoFactorStatus, required),
    row('POST',   '/_guard/api/2fa/required/skip',                   'authenticated', skipRequiredTwoFactorApi, required),

    // Login & Security pages (security.ts, enable.ts, disable.ts, recovery-codes.ts, change-method.ts)
    row('GET',    '/_guard/security',                                'authenticated', showSecurity, security),
    row('GET',    '/_guard/security/enable',                         'authenticated', showEnable, security),
    row('POST',   '/_guard/security/enable',                         'authenticated', enableStep, security),
    row('GET',    '/_guard/security/disable',                        'authenticated', showDisable, security),
    row('POST',   '/_guard/security/disable',                        'authenticated', disableStep, security),
    row('GET',    '/_guard/security/recovery-codes',                 'authenticated', showRecoveryCodes, security),
    row('POST',   '/_guard/security/recovery-codes',                 'authenticated', recoveryCodesStep, security),
    row('GET',    '/_guard/security/change',                         'authenticated', showChangeMethod, twoFactor),
    row('POST',   '/_guard/security/change',                         'authenticated', changeMethodStep, twoFactor),

    // the 2FA settings JSON API (two-factor-api.ts)
    row('GET',    '/_guard/api/2fa',                                 'authenticated', twoFactorStatus, twoFactor),
    row('POST',   '/_guard/api/2fa/enable/start',                    'authenticated', twoFactorCall('enableStart'), twoFactor),
    row('POST',   '/_guard/api/2fa/enable/identity',                 'authenticated', twoFactorCall('enableIdentity'), twoFactor),
    row('POST',   '/_guard/api/2fa/enable/identity/verify',          'authenticated', twoFactorCall('enableIdentityVerify'), twoFactor),
    row('POST',   '/_guard/api/2fa/enable/method',                   'authenticated', twoFactorCall('enableMethod'), twoFactor),
    row('POST',   '/_guard/api/2fa/enable/confirm',                  'authenticated', twoFactorCall('enableConfirm'), twoFactor),
    row('POST',   '/_guard/api/2fa/disable/start',                   'authenticated', twoFactorCall('disableStart'), twoFactor),
    row('POST',   '/_guard/api/2fa/disable/verify',                  'authenticated', twoFactorCall('disableVerify'), twoFactor),
    row('POST',   '/_guard/api/2fa/disable/confirm',                 'authenticated', twoFactorCall('disableConfirm'), twoFactor),
    row('POST',   '/_guard/api/2fa/recovery-codes/start',            'authenticated', twoFactorCall('recoveryStart'), twoFactor),
    row('POST',   '/_guard/api/2fa/recovery-codes/confirm',          'authenticated', twoFactorCall('recoveryConfirm'), twoFactor),
    row('POST',   '/_guard/api/2fa/change/start',                    'authenticated', twoFactorCall('changeStart'), twoFactor),
    row('POST',   '/_guard/api/2fa/change/verify',                   'authenticated', twoFactorCall('changeVerify'), twoFactor),

    // active sessions (sessions.ts)
    row('POST',   '/_guard/security/sessions/revoke',                'authenticated', revokeSessionForm, sessions),
    row('POST',   '/_guard/security/sessions/revoke-others',         'authenticated', revokeOtherSessionsForm, sessions),
    row('GET',    '/_guard/api/sessions',                            'authenticated', listSessions, sessions),
    row('POST',   '/_guard/api/sessions/revoke-others',              'authenticated', revokeOtherSessions, sessions),
    row('POST',   '/_guard/api/sessions/:handle/revoke',             'authenticated', revokeSession, sessions),

    // remembered browsers (remembered-browsers.ts)
    row('POST',   '/_guard/security/remembered-browsers/forget',     'authenticated', forgetBrowserForm, remembered),
    row('GET',    '/_guard/api/remembered-browsers',                 'authenticated', listRememberedBrowsers, remembered),
    row('DELETE', '/_guard/api/remembered-browsers',                 'authenticated', forgetAllBrowsers, remembered),
    row('POST',   '/_guard/api/remembered-browsers/revoke',          'authenticated', revokeRememberedBrowser, remembered),
    row('DELETE', '/_guard/api/remembered-browsers/:id',             'authenticated', forgetBrowser, remembered),

    // passkeys (passkey-pages.ts, passkey-api.ts), only where config webauthn turns them on
    ...(passkeys
      ? [
          row('GET',    '/_guard/security/passkeys',                 'authenticated', showPasskeys, passkeys),
          row('POST',   '/_guard/security/passkeys',                 'authenticated', passkeysForm, passkeys),
          row('POST',   '/_guard/verify/passkey',                    'pending',       verifyPasskeyForm, passkeys),
          row('POST',   '/_guard/step-up/passkey',                   'authenticated', stepUpPasskeySubmit, passkeys),
          row('GET',    '/_guard/api/2fa/passkeys',                  'authenticated', listPasskeys, passkeys),
          row('POST',   '/_guard/api/2fa/passkeys/start',            'authenticated', passkeyCall('start'), passkeys),
          row('POST',   '/_guard/api/2fa/passkeys/verify',           'authenticated', passkeyCall('verify'), passkeys),
          row('POST',   '/_guard/api/2fa/passkeys/register/options', 'authenticated', passkeyCall('registerOptions'), passkeys),
          row('POST',   '/_guard/api/2fa/passkeys/register/verify',  'authenticated', passkeyCall('register'), passkeys),
          row('POST',   '/_guard/api/2fa/passkeys/remove',           'authenticated', passkeyCall('remove'), passkeys),
          row('POST',   '/_guard/api/login/passkey/options',         'pending',       signInPasskeyOptions, passkeys),
          row('POST',   '/_guard/api/login/passkey/verify',          'pending',       signInPasskeyVerify, passkeys),
          row('POST',   '/_guard/api/step-up/passkey/options',       'authenticated', passkeyCall('stepUpOptions'), passkeys),
          row('POST',   '/_guard/api/step-up/passkey/verify',        'authenticated', passkeyCall('stepUpVerify'), passkeys),
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

