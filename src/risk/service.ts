import type { Logger } from '../observability/logger.ts';
import type { Clock, Random } from '../server/providers.ts';
import type { EphemeralStore } from '../store/ephemeral.ts';
import { assessRisk, type RiskAssessment } from './assess.ts';
import { newDeviceId, signDeviceId, verifyDeviceId } from './device.ts';
import { gatherFacts, recordVerifiedLogin, type RiskCounters } from './gather.ts';
import type { RiskHistoryStore } from './history.ts';
import type { RiskConfig } from './schema.ts';

/**
 * The risk engine as the flows use it: the facts of a request read from the stores, the device
 * cookie, and the record of a verified login. Scoring itself stays pure (assess.ts).
 */

const SENSITIVE = (user: string): string => `risk:sensitive:${user}`;

export interface RiskRequest {
  readonly user: string;
  /** The raw device cookie value (verified here); undefined without one. */
  readonly deviceCookie: string | undefined;
  readonly clientAddress: string;
  readonly userAgent: string;
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
      /** HMAC keys for device cookies, newest first (all verify, the first signs). */
      readonly deviceKeys: readonly Buffer[];
    },
  ) {
    const count = async (key: string): Promise<number> => Number((await deps.store.get(key)) ?? '0');
    // The regulation counters already count failures per account; the risk engine reads them.
    this.counters = {
      loginFailures: (user) => count(`fail:acct:${user}`),
      verificationFailures: (user) => count(`fail:factor:acct:${user}`),
      sensitiveOperations: (user) => count(SENSITIVE(user)),
    };
  }

  deviceId(cookie: string | undefined): string | null {
    return verifyDeviceId(this.deps.deviceKeys, cookie);
  }

  async assess(request: RiskRequest): Promise<RiskAssessment> {
    const facts = await gatherFacts({
      config: this.deps.config,
      history: this.deps.history,
      counters: this.counters,
      user: request.user,
      deviceId: this.deviceId(request.deviceCookie),
      clientAddress: request.clientAddress,
      userAgent: request.userAgent,
    });
    return assessRisk(this.deps.config, facts, this.deps.clock.now());
  }

  /** Counts one sensitive operation (before it is assessed, so the burst includes it). */
  async countSensitiveOperation(user: string): Promise<void> {
    await this.deps.store.increment(SENSITIVE(user), 1, this.deps.config.signals.sensitive_burst.window);
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
