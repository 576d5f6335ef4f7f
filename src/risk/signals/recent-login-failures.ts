/** `recent_login_failures`: at least `threshold` failed logins of the account within `window`. */
import { failureSignal } from './failures.ts';

export const recentLoginFailures = failureSignal('recent_login_failures', 'Recent login failures', 'recentLoginFailures', 'failed login');
