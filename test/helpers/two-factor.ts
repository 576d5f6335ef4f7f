import { cryptoRandom } from '../../src/core/random.ts';
import http, { type IncomingHttpHeaders } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConfigInput } from '../../src/config/schema.ts';
import { newEncryptionKeys } from '../../src/factors/secret-box.ts';
import { totpCode } from '../../src/factors/totp/algorithm.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { startStack, type Stack, type StackOptions } from './stack.ts';

/**
 * Helpers for the 2FA tests (login with a second factor, enable/disable/recovery flows): an API
 * client with its own cookie jar, readers for the outbox (where the outbox channels put every SMS
 * and email), Base32 decoding for the TOTP secret the API hands out, and one-call enrollments.
 */

export const MERCHANT = 'merchant@example.com';
export const OWNER = 'owner@example.com';
export const PASSWORD = 'smartpush-demo';
/** The demo merchant's phone (demo/app.ts), as the profile endpoint gives it. */
export const MERCHANT_PHONE = '+15555550189';
export const MASKED_MERCHANT_PHONE = '+1 •••• ••89';
export const MASKED_MERCHANT_EMAIL = 'm•••@example.com';

// ---------------------------------------------------------------------------------------------
// HTTP

export interface ApiReply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly setCookies: string[];
  readonly text: string;
  /** The body as JSON (an empty object when the body is not JSON). */
  readonly body: Record<string, unknown>;
}

export interface RawRequest {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string | undefined>>;
  readonly body?: string;
}

/** One request on a fresh connection (no redirects followed, any header allowed). */
export function rawRequest(url: string, options: RawRequest = {}): Promise<ApiReply> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.headers ?? {})) if (value !== undefined) headers[name] = value;
  const body = options.body === undefined ? undefined : Buffer.from(options.body, 'utf8');
  if (body !== undefined) headers['content-length'] = String(body.length);
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: Record<string, unknown> = {};
        try {
          const value: unknown = JSON.parse(text);
          if (typeof value === 'object' && value !== null && !Array.isArray(value)) parsed = value as Record<string, unknown>;
        } catch {
          // not JSON (an HTML page): body stays empty
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, setCookies: res.headers['set-cookie'] ?? [], text, body: parsed });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** name, value and whether the header deletes the cookie. */
export function parseSetCookie(header: string): { name: string; value: string; deletes: boolean } {
  const [pair = '', ...attributes] = header.split(';').map((s) => s.trim());
  const eq = pair.indexOf('=');
  const name = eq === -1 ? pair : pair.slice(0, eq);
  const value = eq === -1 ? '' : pair.slice(eq + 1);
  const deletes = value === '' || attributes.some((a) => /^max-age=\s*(0|-\d+)$/i.test(a));
  return { name, value, deletes };
}

/** The value a response sets (not clears) for cookie `name`, if any. */
export function cookieSet(reply: ApiReply, name: string): string | undefined {
  for (const header of reply.setCookies) {
    const parsed = parseSetCookie(header);
    if (parsed.name === name && !parsed.deletes) return parsed.value;
  }
  return undefined;
}

/**
 * A JSON API client of the sidecar with a cookie jar, like one browser profile. Every 2FA call of
 * DESIGN §5 has a method; `post`/`get` reach anything else.
 */
export class GuardClient {
  readonly cookies = new Map<string, string>();
  /** The account this client last signed in as (set by `login`). */
  user: string | undefined;

  constructor(
    readonly url: string,
    /** Headers every request carries (e.g. X-Forwarded-For behind a trusted proxy). */
    readonly extraHeaders: Readonly<Record<string, string>> = {},
  ) {}

  cookieHeader(): string | undefined {
    if (this.cookies.size === 0) return undefined;
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  /** Applies a response's Set-Cookie headers to the jar. */
  take(reply: ApiReply): ApiReply {
    for (const header of reply.setCookies) {
      const { name, value, deletes } = parseSetCookie(header);
      if (deletes) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return reply;
  }

  /** A second browser tab sharing this profile's cookies from now on (copied, not shared). */
  clone(): GuardClient {
    const copy = new GuardClient(this.url, this.extraHeaders);
    for (const [name, value] of this.cookies) copy.cookies.set(name, value);
    copy.user = this.user;
    return copy;
  }

  async request(path: string, options: RawRequest = {}): Promise<ApiReply> {
    const reply = await rawRequest(`${this.url}${path}`, {
      ...options,
      headers: { accept: 'application/json', ...this.extraHeaders, cookie: this.cookieHeader(), ...options.headers },
    });
    return this.take(reply);
  }

  /** POST with a JSON body (none when `json` is undefined). */
  post(path: string, json?: unknown): Promise<ApiReply> {
    return this.request(path, {
      method: 'POST',
      ...(json === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(json) }),
    });
  }

  get(path: string): Promise<ApiReply> {
    return this.request(path);
  }

  async login(email: string = MERCHANT, password: string = PASSWORD): Promise<ApiReply> {
    this.user = email.trim().toLowerCase();
    return this.post('/_guard/api/login', { email, password });
  }

  verify(code: unknown): Promise<ApiReply> {
    return this.post('/_guard/api/login/verify', { code });
  }

  resend(): Promise<ApiReply> {
    return this.post('/_guard/api/login/resend');
  }

  logout(): Promise<ApiReply> {
    return this.post('/_guard/api/logout');
  }

  /** GET /api/me of the demo app through the sidecar. */
  me(): Promise<ApiReply> {
    return this.get('/api/me');
  }

  status(): Promise<ApiReply> {
    return this.get('/_guard/api/2fa');
  }

  enableStart(password?: string): Promise<ApiReply> {
    return this.post('/_guard/api/2fa/enable/start', password === undefined ? {} : { password });
  }

  enableIdentity(channel: unknown, extra: Record<string, unknown> = {}): Promise<ApiReply> {
    return this.post('/_guard/api/2fa/enable/identity', { channel, ...extra });
  }

  enableIdentityVerify(code: unknown): Promise<ApiReply> {
    return this.post('/_guard/api/2fa/enable/identity/verify', { code });
  }

  enableMethod(method: unknown, phone?: string): Promise<ApiReply> {
    return this.post('/_guard/api/2fa/enable/method', phone === undefined ? { method } : { method, phone });
  }

  enableConfirm(code: unknown): Promise<ApiReply> {
    return this.post('/_guard/api/2fa/enable/confirm', { code });
  }

  disableStart(password?: string): Promise<ApiReply> {
    return this.post('/_guard/api/2fa/disable/start', password === undefined ? {} : { password });
  }

  disableVerify(code: unknown): Promise<ApiReply> {
    return this.post('/_guard/api/2fa/disable/verify', { code });
  }

  disableConfirm(): Promise<ApiReply> {
    return this.post('/_guard/api/2fa/disable/confirm', {});
  }

  recoveryStart(): Promise<ApiReply> {
    return this.post('/_guard/api/2fa/recovery-codes/start', {});
  }

  recoveryConfirm(code: unknown): Promise<ApiReply> {
    return this.post('/_guard/api/2fa/recovery-codes/confirm', { code });
  }
}

/** Throws with the reply in the message unless the status is the expected one. */
export function expectStatus(reply: ApiReply, status: number, what: string): ApiReply {
  if (reply.status !== status) throw new Error(`${what}: expected ${status}, got ${reply.status}: ${reply.text.slice(0, 400)}`);
  return reply;
}

// ---------------------------------------------------------------------------------------------
// Outbox

export interface OutboxMessage {
  readonly time: string;
  readonly channel: 'email' | 'sms';
  readonly to: string;
  readonly subject?: string;
  readonly text: string;
  readonly purpose: 'code' | 'notification' | 'alert';
  /** Security alerts only: `kind: "alert"`, the alert's kind and language. */
  readonly kind?: 'alert';
  readonly alert?: string;
  readonly lang?: string;
}

/** Every message in the outbox file, oldest first (none when the file does not exist yet). */
export function outboxMessages(outboxFile: string): OutboxMessage[] {
  return outboxLines<OutboxMessage>(outboxFile);
}

/** The outbox file's complete lines, parsed, oldest first (none when the file does not exist yet). */
export function outboxLines<T>(outboxFile: string): T[] {
  if (!existsSync(outboxFile)) return [];
  const text = readFileSync(outboxFile, 'utf8');
  // A line being appended (another message sent meanwhile) can be read half-written: a write that
  // straddles a page shows its first part first. Only lines with their newline are complete.
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((line) => line.trim().length > 0)
    .map((line) => JSON.parse(line) as T);
}

/** The 6-digit code in a code message's text. */
export function codeIn(text: string): string {
  const match = /\b(\d{6})\b/.exec(text);
  if (!match?.[1]) throw new Error(`no code in message: ${text}`);
  return match[1];
}

/** Code messages, optionally only those to `to`. */
export function codeMessages(outboxFile: string, to?: string): OutboxMessage[] {
  return outboxMessages(outboxFile).filter((m) => m.purpose === 'code' && (to === undefined || m.to === to));
}

/** The newest code in the outbox, optionally only among messages to `to`. */
export function lastCode(outboxFile: string, to?: string): string {
  const messages = codeMessages(outboxFile, to);
  const last = messages[messages.length - 1];
  if (!last) throw new Error(`no code in the outbox${to ? ` for ${to}` : ''}`);
  return codeIn(last.text);
}

/**
 * The owner's messages about security events, optionally only those to `to`: the legacy
 * notification emails and the security alerts (src/alerts/owner-message.ts: one or the other per
 * event), except new-sign-in alerts, which are about sign-ins rather than the events tests count.
 * Call `settleOwnerMessages` first: alerts are sent from a queue.
 */
export function ownerMessages(outboxFile: string, to?: string): OutboxMessage[] {
  return outboxMessages(outboxFile).filter(
    (m) => (m.purpose === 'notification' || (m.purpose === 'alert' && m.alert !== 'new_browser')) && (to === undefined || m.to === to),
  );
}

/** Waits until the audit records are written and the alerts they call for are sent. */
export async function settleOwnerMessages(guard: { readonly audit: { settle(): Promise<void> }; readonly alerts: { idle(): Promise<void> } }): Promise<void> {
  await guard.audit.settle();
  await guard.alerts.idle();
}

/** Notification emails, optionally only those to `to`. */
export function notifications(outboxFile: string, to?: string): OutboxMessage[] {
  return outboxMessages(outboxFile).filter((m) => m.purpose === 'notification' && (to === undefined || m.to === to));
}

// ---------------------------------------------------------------------------------------------
// TOTP

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 Base32 (padding, spaces and case ignored). */
export function base32Decode(text: string): Buffer {
  const clean = text.replace(/[\s=]/g, '').toUpperCase();
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const char of clean) {
    const index = BASE32_ALPHABET.indexOf(char);
    if (index === -1) throw new Error(`not Base32: ${JSON.stringify(char)}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The TOTP code of `secret` (default parameters: SHA1, 6 digits, 30 s) at `timeMs`. */
export function totpAt(secret: Buffer, timeMs: number): string {
  return totpCode(secret, timeMs);
}

// ---------------------------------------------------------------------------------------------
// Enrollment over the API

export interface Enrolled {
  /** The raw TOTP secret (totp only; empty otherwise). */
  readonly secret: Buffer;
  /** The secret as the API showed it (Base32), totp only. */
  readonly base32: string;
  readonly recoveryCodes: string[];
  /** The confirm reply (its Set-Cookie carries the rotated session). */
  readonly reply: ApiReply;
}

export interface EnrollOptions {
  /** Where codes are read (default: the stack's outbox). */
  readonly readCode?: (to: string) => string | Promise<string>;
  readonly outboxFile?: string;
  /** The clock the sidecar runs on (TOTP codes are computed at its time). Default: the system clock. */
  readonly clock?: { now(): number };
  /** Send the password to enable/start (default true: send it). */
  readonly password?: string | null;
  /** Identity channel (default email). */
  readonly identityChannel?: 'email' | 'sms';
  /** For identity by sms: where that code goes (default the merchant's phone). */
  readonly identityPhone?: string;
}

function codeReader(options: EnrollOptions): (to: string) => string | Promise<string> {
  if (options.readCode) return options.readCode;
  const file = options.outboxFile;
  if (!file) throw new Error('give readCode or outboxFile');
  return (to) => lastCode(file, to);
}

/** enable/start → identity (email by default) → identity/verify; leaves the flow at choose_method. */
export async function verifyIdentity(client: GuardClient, options: EnrollOptions): Promise<void> {
  const user = client.user;
  if (!user) throw new Error('the client has not signed in');
  const read = codeReader(options);
  const password = options.password === undefined ? PASSWORD : options.password;
  expectStatus(await client.enableStart(password ?? undefined), 200, 'enable/start');
  const channel = options.identityChannel ?? 'email';
  expectStatus(await client.enableIdentity(channel), 200, 'enable/identity');
  const code = await read(channel === 'email' ? user : (options.identityPhone ?? MERCHANT_PHONE));
  expectStatus(await client.enableIdentityVerify(code), 200, 'enable/identity/verify');
}

/** The whole TOTP enrollment. The confirm code uses the clock's current step (now used: a login needs the next one). */
export async function enableTotp(client: GuardClient, options: EnrollOptions): Promise<Enrolled> {
  await verifyIdentity(client, options);
  const method = expectStatus(await client.enableMethod('totp'), 200, 'enable/method totp');
  const base32 = String(method.body['secret']);
  const secret = base32Decode(base32);
  const now = (options.clock ?? { now: () => Date.now() }).now();
  const reply = expectStatus(await client.enableConfirm(totpAt(secret, now)), 200, 'enable/confirm totp');
  return { secret, base32, recoveryCodes: reply.body['recovery_codes'] as string[], reply };
}

/** The whole SMS enrollment (to the phone on file unless `phone` is given). */
export async function enableSms(client: GuardClient, options: EnrollOptions & { phone?: string; codeTo?: string } = {}): Promise<Enrolled> {
  await verifyIdentity(client, options);
  expectStatus(await client.enableMethod('sms', options.phone), 200, 'enable/method sms');
  const code = await codeReader(options)(options.codeTo ?? options.phone ?? MERCHANT_PHONE);
  const reply = expectStatus(await client.enableConfirm(code), 200, 'enable/confirm sms');
  return { secret: Buffer.alloc(0), base32: '', recoveryCodes: reply.body['recovery_codes'] as string[], reply };
}

/**
 * The whole email enrollment (codes to the account's own address). Identity is proven by text
 * message by default: the address cannot both prove who this is and become the second factor
 * (src/flows/same-channel.ts).
 */
export async function enableEmail(client: GuardClient, options: EnrollOptions = {}): Promise<Enrolled> {
  await verifyIdentity(client, { identityChannel: 'sms', ...options });
  expectStatus(await client.enableMethod('email'), 200, 'enable/method email');
  const code = await codeReader(options)(client.user as string);
  const reply = expectStatus(await client.enableConfirm(code), 200, 'enable/confirm email');
  return { secret: Buffer.alloc(0), base32: '', recoveryCodes: reply.body['recovery_codes'] as string[], reply };
}

// ---------------------------------------------------------------------------------------------
// Stacks

export interface ClockedStack {
  readonly stack: Stack;
  readonly clock: ManualClock;
  /** A new API client of this stack. */
  client(extraHeaders?: Readonly<Record<string, string>>): GuardClient;
  /** Signs a new client in and checks the answer's status. */
  signedIn(email?: string): Promise<GuardClient>;
  /** Enrollment options reading this stack's outbox at this stack's time. */
  readonly enroll: EnrollOptions;
}

/**
 * A preset of `startStack`: the sidecar on a ManualClock (by default starting at the real time, so
 * dates in logs and cookies look ordinary), with an API client factory and enrollment options.
 */
export async function startClockedStack(options: StackOptions = {}, clock = new ManualClock(Date.now())): Promise<ClockedStack> {
  const stack = await startStack({ ...options, clock });
  const clocked: ClockedStack = {
    stack,
    clock,
    client: (extraHeaders = {}) => new GuardClient(stack.url, extraHeaders),
    async signedIn(email = MERCHANT) {
      const client = new GuardClient(stack.url);
      expectStatus(await client.login(email), 200, `login of ${email}`);
      return client;
    },
    enroll: { outboxFile: stack.outboxFile, clock },
  };
  return clocked;
}

/** Runs `fn` against a fresh clocked stack and always closes it. */
export async function withClockedStack<T>(options: StackOptions, fn: (s: ClockedStack) => Promise<T>, clock?: ManualClock): Promise<T> {
  const s = await startClockedStack(options, clock);
  try {
    return await fn(s);
  } finally {
    await s.stack.close();
  }
}

/** Send budgets large enough that tests about other things never meet them. */
export const GENEROUS_BUDGETS = {
  per_account: { max: 1000, window: '1h' },
  per_destination: { max: 1000, window: '10m' },
  per_address: { max: 1000, window: '1h' },
  global: { max: 10_000, window: '1h' },
} as const;

type FactorsInput = ConfigInput['factors'];

/**
 * A `factors` config section: the stack helper replaces the whole section when a test gives one,
 * so this writes a fresh encryption-key file (returned too, for tests that open sealed values).
 */
export function factorsConfig(overrides: Partial<Omit<FactorsInput, 'encryption_keys'>> = {}): { factors: FactorsInput; keysFile: string } {
  const dir = mkdtempSync(join(tmpdir(), 'spg-2fa-keys-'));
  const keysFile = join(dir, 'encryption-keys.json');
  writeFileSync(keysFile, newEncryptionKeys(cryptoRandom), { mode: 0o600 });
  return { factors: { encryption_keys: { file: keysFile }, ...overrides }, keysFile };
}

/**
 * Writes an sms or email enrollment straight into the durable store (as support's tooling or a
 * previous enrollment would have), so a test about logins spends no sends on enrolling.
 */
export async function enrollDirectly(stack: Stack, user: string, method: 'sms' | 'email', destination: string, now: number): Promise<void> {
  await stack.guard.durable.enable({ user, method, destination, totp: null, createdAt: now, updatedAt: now }, []);
}

/** The `_csrf` value of a sidecar HTML page. */
export function csrfFrom(html: string): string {
  const match = /name="_csrf"[^>]*value="([^"]*)"/.exec(html) ?? /value="([^"]*)"[^>]*name="_csrf"/.exec(html);
  if (!match?.[1]) throw new Error(`no _csrf field in page: ${html.slice(0, 300)}`);
  return match[1];
}
