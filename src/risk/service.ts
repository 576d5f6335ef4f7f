import { fromContext, NO_AUDIT, type AuditContext, type AuditRecorder } from '../audit/audit.ts';
import { consecutiveFailuresKey } from '../factors/lockout.ts';
import type { Logger } from '../observability/logger.ts';
import type { Clock } from '../core/clock.ts';
import type { Random } from '../core/random.ts';
import type { EphemeralStore } from '../store/ephemeral.ts';
import { assessRisk, explainRisk, type RiskAssessment } from './assess.ts';
import { newDeviceId, signDeviceId, verifyDeviceId } from './device.ts';
import { gatherFacts, recordVerifiedLogin, type RiskCounters } from './gather.ts';
import type { RiskHistoryStore } from './history.ts';
import type { RiskConfig } from '../config/schema/risk.ts';
import { networkPrefix } from './network.ts';

/**
 * The risk engine as the flows use it: the facts of a request read from the stores, the device
 * cookie, and the record of a verified login. Scoring itself stays pure (assess.ts).
 */

/**
 * Sensitive operations are counted in buckets of a tenth of the burst window, so "more than N in
 * the last window" is a sliding count, not a window that resets at a fixed time.
 */
const SENSITIVE = (user: string, bucket: number): string => `risk:sensitive:${user}:${bucket}`;
const LOGIN_FAILURES = (user: string): string => `risk:login-failures:${user}`;

interface RiskRequest {
  readonly user: string;
  /** The raw device cookie value (verified here); undefined without one. */
  readonly deviceCookie: string | undefined;
  readonly clientAddress: string;
  readonly userAgent: string;
  /** For the audit record of an assessment: request facts, correlation ids. */
  readonly context?: AuditContext | undefined;
  /** What is assessed: a sign-in, or a sensitive operation's category (audit only). */
  readonly category?: string | undefined;
}

export class RiskService {
  private readonly counters: RiskCounters;

  constructor(
    private readonly deps: {
      readonly config: RiskConfig;
      readonly history: RiskHistoryStore;
      readonly store: EphemeralStore;
      readonly clock: Clock;
      readonly random: Random;
      readonly logger: Logger;
      /** Records each assessment that is asked with a context (`assess` of a sign-in or operation). */
      readonly audit?: AuditRecorder;
      /** HMAC keys for device cookies, newest first (all verify, the first signs). */
      readonly deviceKeys: readonly Buffer[];
    },
  ) {
    const count = async (key: string): Promise<number> => Number((await deps.store.get(key)) ?? '0');
    this.counters = {
      loginFailures: (user) => count(LOGIN_FAILURES(user)),
      verificationFailures: (user) => count(consecutiveFailuresKey(user)),
      sensitiveOperations: async (user) => {
        const keys = this.sensitiveBuckets().map((bucket) => SENSITIVE(user, bucket));
        const values = await deps.store.getMany(keys);
        return values.reduce((sum, value) => sum + Number(value ?? '0'), 0);
      },
    };
  }

  private bucketMs(): number {
    return Math.max(1000, Math.ceil(this.deps.config.signals.sensitive_burst.window / 10));
  }

  /** The buckets that make up the burst window ending now (the current one included). */
  private sensitiveBuckets(): number[] {
    const size = this.bucketMs();
    const current = Math.floor(this.deps.clock.now() / size);
    const count = Math.ceil(this.deps.config.signals.sensitive_burst.window / size);
    return Array.from({ length: count }, (_, i) => current - i);
  }

  /**
   * A failed sign-in, for the risk signal (the regulation's own counter is wiped by a success and
   * has the lockout's window, not the signal's).
   */
  async recordLoginFailure(user: string): Promise<void> {
    await this.deps.store.increment(LOGIN_FAILURES(user), 1, this.deps.config.signals.recent_login_failures.window);
  }

  deviceId(cookie: string | undefined): string | null {
    return verifyDeviceId(this.deps.deviceKeys, cookie);
  }

  /**
   * The device id of a cookie when it verifies *and* is a known device of `user` (an earlier fully
   * verified sign-in); null otherwise. A history that cannot be read counts as unknown: the caller
   * then applies the stricter per-address limits.
   */
  async knownDevice(user: string, cookie: string | undefined): Promise<string | null> {
    const id = this.deviceId(cookie);
    if (id === null) return null;
    try {
      return (await this.deps.history.knownDevice(user, id)) ? id : null;
    } catch (error) {
      this.deps.logger.error({ err: error, user }, 'could not read the known devices; counting the attempt by address');
      return null;
    }
  }

  /**
   * For the security alerts (src/alerts/): whether a sign-in's device id and network (/24, /48)
   * are new to the account, read before the sign-in joins the history. `first_sign_in`: no sign-in
   * on record, so nothing is "new" to the owner. Empty when the history cannot be read: no alert
   * rather than a false one (the risk assessment itself still counts unknown facts as risky).
   */
  async novelty(user: string, deviceCookie: string | undefined, clientAddress: string): Promise<Record<string, boolean>> {
    try {
      const logins = await this.deps.history.recentLogins(user, this.deps.config.history.logins);
      if (logins.length === 0) return noveltyOf([], false, clientAddress);
      const id = this.deviceId(deviceCookie);
      const known = id !== null && (await this.deps.history.knownDevice(user, id));
      return noveltyOf(
        logins.map((entry) => entry.network),
        known,
        clientAddress,
      );
    } catch (error) {
      this.deps.logger.warn({ err: error, user }, 'could not read the sign-in history for security alerts');
      return {};
    }
  }

  /**
   * An assessment with the sign-in's novelty (as `novelty` gives it) read off the same facts, so a
   * password sign-in reads the history once. Empty novelty when a fact could not be read.
   */
  async assess(request: RiskRequest): Promise<RiskAssessment & { readonly novelty: Record<string, boolean> }> {
    const facts = await gatherFacts({
      config: this.deps.config,
      history: this.deps.history,
      counters: this.counters,
      user: request.user,
      deviceId: this.deviceId(request.deviceCookie),
      clientAddress: request.clientAddress,
      userAgent: request.userAgent,
    });
    const assessment = assessRisk(this.deps.config, facts, this.deps.clock.now());
    const novelty =
      facts.recentNetworks === 'unknown' || (facts.deviceKnown === 'unknown' && facts.recentNetworks.length > 0)
        ? {}
        : noveltyOf(facts.recentNetworks, facts.deviceKnown === true, request.clientAddress);
    (this.deps.audit ?? NO_AUDIT).record({
      event: 'risk_assessed',
      outcome: 'info',
      user: request.user,
      risk: { score: assessment.score, level: assessment.level, signals: explainRisk(assessment) },
      ...fromContext({ client: request.clientAddress, userAgent: request.userAgent, ...request.context }, { category: request.category ?? 'sign_in' }),
    });
    return { ...assessment, novelty };
  }

  /** Counts one sensitive operation (before it is assessed, so the burst includes it). */
  async countSensitiveOperation(user: string): Promise<void> {
    const [current] = this.sensitiveBuckets();
    await this.deps.store.increment(SENSITIVE(user, current as number), 1, this.deps.config.signals.sensitive_burst.window + this.bucketMs());
  }

  /**
   * After a fully verified login: remembers the device and the login. Returns a device cookie
   * value to set when the request had none (or an invalid one).
   */
  async verifiedLogin(request: RiskRequest): Promise<string | null> {
    const existing = this.deviceId(request.deviceCookie);
    const deviceId = existing ?? newDeviceId(this.deps.random);
    try {
      await recordVerifiedLogin({
        history: this.deps.history,
        clock: this.deps.clock,
        user: request.user,
        deviceId,
        clientAddress: request.clientAddress,
        userAgent: request.userAgent,
      });
    } catch (error) {
      // The login stands; without its history the next assessment counts these facts as unknown (risky).
      this.deps.logger.error({ err: error, user: request.user }, 'could not record the verified login for risk scoring');
    }
    return existing ? null : signDeviceId(this.deps.deviceKeys[0] as Buffer, deviceId);
  }
}

/**
 * Whether a sign-in's device and network (/24, /48) are new to the account, from the networks of
 * its recent sign-ins (newest first) and whether its device is known. `first_sign_in`: none on
 * record, so nothing is "new" to the owner.
 */
function noveltyOf(recentNetworks: readonly string[], deviceKnown: boolean, clientAddress: string): Record<string, boolean> {
  if (recentNetworks.length === 0) return { first_sign_in: true };
  const network = networkPrefix(clientAddress) ?? clientAddress;
  return { new_device: !deviceKnown, new_network: !recentNetworks.some((entry) => (networkPrefix(entry) ?? entry) === network) };
}
