import assert from 'node:assert/strict';
import type { RiskConfigInput } from '../../src/config/schema/risk.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { LOW_RISK, type StackOptions } from './stack.ts';
import {
  GENEROUS_BUDGETS,
  csrfFrom,
  expectStatus,
  factorsConfig,
  lastCode,
  withClockedStack,
  type ApiReply,
  type ClockedStack,
  type GuardClient,
} from './two-factor.ts';

/**
 * Helpers for the risk-at-login and step-up tests: risk configurations that give a chosen level
 * deterministically, a login that completes the risk email code when one is asked for, the
 * sensitive exports of the demo app as an API client and as a browser, the step-up API and page,
 * and the risk assessments the sidecar logs.
 */

export const MINUTE = 60_000;
/** One TOTP step: a code of a step that was used once is refused (replay guard). */
export const TOTP_STEP = 30_000;

/** The demo's thresholds with the default signal weights (DESIGN, src/config/schema/risk.ts). */
export const DEMO_RISK: RiskConfigInput = { levels: { medium: 30, high: 60 } };

export const CONTACT_EXPORT = '/api/contacts/export?rows=2';
export const CAMPAIGN_EXPORT = '/api/campaigns/7/export?rows=2';
/** The step-up page URL the sidecar sends a browser to for `target`. */
export const stepUpUrlFor = (target: string): string => `/_guard/step-up?return_to=${encodeURIComponent(target)}`;
/** The CSV the demo app sends for `rows=2`: its header line then two fixed-width rows. */
export const EXPORT_HEADER = 'id,email,name,status,country\n';

/** Every risk-raising signal switched off: only the signals a test names can make a score. */
const SILENT_SIGNALS = {
  unknown_device: { weight: 0 },
  new_network: { weight: 0 },
  risky_network: { weight: 0 },
  trusted_network: { weight: 0 },
  recent_login_failures: { weight: 0 },
  recent_verification_failures: { weight: 0 },
  sensitive_burst: { weight: 0 },
  user_agent_change: { weight: 0 },
} as const;

/**
 * A score of exactly 50 on every request from the loopback address (a risky network and no other
 * signal), with thresholds that make 50 the chosen level. Every request of a test comes from
 * 127.0.0.1, so sign-ins and exports are all assessed at that level.
 */
function fixedScore(levels: { medium: number; high: number }): RiskConfigInput {
  return {
    signals: { ...SILENT_SIGNALS, risky_network: { weight: 50 } },
    networks: { risky: ['127.0.0.0/8'] },
    levels,
  };
}

export type Level = 'low' | 'medium' | 'high';
export const LEVELS: readonly Level[] = ['low', 'medium', 'high'];

/** Risk configurations that give each level on every request, whatever device or history. */
export const RISK_AT: Readonly<Record<Level, RiskConfigInput>> = {
  low: LOW_RISK,
  medium: fixedScore({ medium: 50, high: 100 }),
  high: fixedScore({ medium: 10, high: 50 }),
};

/** A clocked stack with the given `risk:` block and send budgets that never get in the way. */
export function withRiskStack<T>(risk: RiskConfigInput, fn: (s: ClockedStack) => Promise<T>, more: Partial<StackOptions> = {}, clock = new ManualClock(Date.now())): Promise<T> {
  return withClockedStack(
    { ...more, config: { ...more.config, risk, factors: factorsConfig({ send_budget: GENEROUS_BUDGETS }).factors } },
    fn,
    clock,
  );
}

/**
 * Signs `client` in with the password and, when the sign-in looked risky, the email code (the
 * `reason: "risk"` step). Fails for a 2FA sign-in (the caller has to give that code).
 */
export async function signInCompletingRisk(s: ClockedStack, client: GuardClient, email?: string): Promise<ApiReply> {
  const login = expectStatus(await client.login(email), 200, 'login');
  if (login.body['status'] === 'authenticated') return login;
  assert.equal(login.body['status'], 'verification_required', login.text);
  assert.equal(login.body['reason'], 'risk', `signInCompletingRisk cannot finish a ${String(login.body['reason'])} verification`);
  return expectStatus(await client.verify(lastCode(s.stack.outboxFile, client.user)), 200, 'login/verify (risk email code)');
}

/** A new client of the stack, signed in (risk email code completed when asked). */
export async function signedInClient(s: ClockedStack, email?: string): Promise<GuardClient> {
  const client = s.client();
  const reply = await signInCompletingRisk(s, client, email);
  assert.equal(reply.body['status'], 'authenticated', reply.text);
  return client;
}

/** A sensitive export as an API client (Accept: application/json). */
export function apiCall(client: GuardClient, target: string, method = 'GET', body?: string): Promise<ApiReply> {
  return client.request(target, {
    method,
    headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }) },
    ...(body === undefined ? {} : { body }),
  });
}

/** A sensitive export as a browser navigation (Accept: text/html). */
export function browserCall(client: GuardClient, target: string, method = 'GET', body?: string): Promise<ApiReply> {
  return client.request(target, {
    method,
    headers: {
      accept: 'text/html,application/xhtml+xml,*/*;q=0.8',
      ...(body === undefined ? {} : { 'content-type': 'application/x-www-form-urlencoded' }),
    },
    ...(body === undefined ? {} : { body }),
  });
}

/** Asserts the export went through: 200 and the demo's CSV with `rows` data rows. */
export function assertExported(reply: ApiReply, what: string, rows = 2): void {
  assert.equal(reply.status, 200, `${what}: expected the export, got ${reply.status}: ${reply.text.slice(0, 300)}`);
  assert.match(String(reply.headers['content-type']), /^text\/csv/, `${what}: content type`);
  assert.ok(reply.text.startsWith(EXPORT_HEADER), `${what}: CSV header: ${reply.text.slice(0, 80)}`);
  assert.equal(reply.text.split('\n').filter((line) => line.length > 0).length, rows + 1, `${what}: ${rows} data rows`);
}

/** Asserts the API answer of a step-up requirement (DESIGN §5) for `target` asking for `method`. */
export function assertStepUpRequired(reply: ApiReply, target: string, method: string, what: string): void {
  assert.equal(reply.status, 401, `${what}: expected 401 step_up_required, got ${reply.status}: ${reply.text.slice(0, 300)}`);
  assert.equal(reply.body['error'], 'step_up_required', `${what}: ${reply.text}`);
  assert.equal(reply.body['step_up_url'], stepUpUrlFor(target), `${what}: step_up_url`);
  assert.equal(reply.body['method'], method, `${what}: method`);
  assert.ok(!reply.text.includes(EXPORT_HEADER), `${what}: no CSV leaked`);
}

/** Asserts the browser answer of a step-up requirement: 303 to the step-up page for `target`. */
export function assertStepUpRedirect(reply: ApiReply, target: string, what: string): void {
  assert.equal(reply.status, 303, `${what}: expected 303 to the step-up page, got ${reply.status}: ${reply.text.slice(0, 300)}`);
  assert.equal(reply.headers.location, stepUpUrlFor(target), `${what}: Location`);
  assert.ok(!reply.text.includes(EXPORT_HEADER), `${what}: no CSV leaked`);
}

export function stepUpStart(client: GuardClient): Promise<ApiReply> {
  return client.post('/_guard/api/step-up/start');
}

export function stepUpVerify(client: GuardClient, code: unknown): Promise<ApiReply> {
  return client.post('/_guard/api/step-up/verify', { code });
}

/** start → the email code from the outbox → verify; returns the verify reply (checked 200). */
export async function stepUpByEmail(s: ClockedStack, client: GuardClient): Promise<ApiReply> {
  const start = expectStatus(await stepUpStart(client), 200, 'step-up/start');
  assert.equal(start.body['status'], 'code_sent', start.text);
  assert.equal(start.body['method'], 'email', start.text);
  const verified = expectStatus(await stepUpVerify(client, lastCode(s.stack.outboxFile, client.user)), 200, 'step-up/verify');
  assert.equal(verified.body['status'], 'verified', verified.text);
  return verified;
}

/** A form POST as a browser would send it (same-origin, form-encoded, HTML wanted). */
export function postForm(client: GuardClient, path: string, fields: Record<string, string>): Promise<ApiReply> {
  return client.request(path, {
    method: 'POST',
    headers: { accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
}

/**
 * Posts a sidecar form as a browser does and follows its Post/Redirect/Get 303 to the page that
 * shows the outcome (with the status the form earned, carried by the flash).
 */
export async function submitForm(client: GuardClient, path: string, fields: Record<string, string>): Promise<ApiReply> {
  const posted = await postForm(client, path, fields);
  const location = posted.headers.location;
  if (posted.status !== 303 || typeof location !== 'string' || !location.startsWith('/_guard/')) return posted;
  return client.request(location, { headers: { accept: 'text/html' } });
}

/** GETs a sidecar page as a browser and returns it with its form token. */
export async function pageWithCsrf(client: GuardClient, path: string): Promise<{ page: ApiReply; csrf: string }> {
  const page = await client.request(path, { headers: { accept: 'text/html' } });
  assert.equal(page.status, 200, `${path}: ${page.status} ${page.text.slice(0, 300)}`);
  return { page, csrf: csrfFrom(page.text) };
}

/** The `risk_assessed` log lines, optionally only those of one sensitive category (undefined: sign-ins). */
export function riskLogs(s: ClockedStack, category?: string | null): Array<Record<string, unknown>> {
  return s.stack.logs.filter(
    (line) => line['event'] === 'risk_assessed' && (category === undefined || (category === null ? line['category'] === undefined : line['category'] === category)),
  );
}

/** The level of the newest sign-in assessment. */
export function lastLoginLevel(s: ClockedStack): unknown {
  const lines = riskLogs(s, null);
  return lines[lines.length - 1]?.['level'];
}

/** The newest sign-in assessment. */
export function lastLoginAssessment(s: ClockedStack): Record<string, unknown> | undefined {
  const lines = riskLogs(s, null);
  return lines[lines.length - 1];
}
