import { maskDestination } from '../flows/second-factor.ts';
import type { Enrollment } from '../store/durable.ts';
import { AdminError, rememberedBrowserView, type AdminOperationsDeps, type KnownBy, type UserStatus } from './model.ts';

const iso = (ms: number): string => new Date(ms).toISOString();
const seconds = (ms: number | null): number | null => (ms === null ? null : Math.ceil(ms / 1000));

/** What the sidecar knows the account by; none: the account is unknown here. */
export async function knownBy(deps: AdminOperationsDeps, user: string, enrollment: Enrollment | null): Promise<KnownBy[]> {
  const found: KnownBy[] = [];
  if (enrollment) found.push('enrollment');
  if ((await deps.riskHistory.recentLogins(user, 1)).length > 0) found.push('sign_in_history');
  if ((await deps.audit.recent({ user, limit: 1 })).length > 0) found.push('audit');
  const live = deps.live;
  if (live) {
    const [factor, login] = await Promise.all([live.factor.lockState(user), live.regulation.accountState(user)]);
    if (factor.consecutiveFailures > 0 || factor.bannedForMs !== null || login.bannedForMs !== null || login.failures > 0) found.push('lockout');
  }
  return found;
}

export function unknownUser(user: string): AdminError {
  return new AdminError(
    404,
    'unknown_user',
    `No record of ${user}: no 2FA enrollment, sign-in or audit event. Check the spelling; an account that never signed in through the sidecar is unknown here.`,
  );
}

/** The account's 2FA state, lockouts, last sign-in and remembered browsers, for support. */
export async function accountStatus(deps: AdminOperationsDeps, user: string): Promise<UserStatus> {
  const enrollment = await deps.durable.getEnrollment(user);
  const known = await knownBy(deps, user, enrollment);
  if (known.length === 0) throw unknownUser(user);
  const live = deps.live;
  let lockout: UserStatus['lockout'] = null;
  if (live) {
    const [factor, login] = await Promise.all([live.factor.lockState(user), live.regulation.accountState(user)]);
    lockout = {
      second_factor: {
        locked: factor.locked,
        consecutive_failures: factor.consecutiveFailures,
        locked_for_seconds: seconds(factor.lockedForMs),
        banned_for_seconds: seconds(factor.bannedForMs),
      },
      login: { banned_for_seconds: seconds(login.bannedForMs), recent_failures: login.failures },
    };
  }
  const [last] = await deps.riskHistory.recentLogins(user, 1);
  return {
    user,
    known_by: known,
    two_factor: enrollment
      ? {
          enabled: true,
          method: enrollment.method,
          destination: enrollment.destination,
          destination_masked: maskDestination(enrollment.method, enrollment.destination),
          created_at: iso(enrollment.createdAt),
          updated_at: iso(enrollment.updatedAt),
          recovery_codes_left: await deps.durable.remainingRecoveryCodes(user),
        }
      : { enabled: false },
    lockout,
    last_sign_in: last ? { at: iso(last.at), network: last.network } : null,
    ...(deps.remembered ? { remembered_browsers: (await deps.remembered.list(user)).map(rememberedBrowserView) } : {}),
  };
}
