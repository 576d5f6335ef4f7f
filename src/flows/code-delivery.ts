import { fromContext, type AuditContext, type AuditRecorder } from '../audit/audit.ts';
import { ChannelError } from '../channels/channel.ts';
import { codeMessage } from '../channels/templates.tsx';
import type { Clock } from '../core/clock.ts';
import type { FactorRegistry } from '../factors/registry.ts';
import type { OneTimeCodes } from '../factors/one-time-codes.ts';
import type { SendBudget, SendReceipt } from '../factors/send-budget.ts';
import type { Logger } from '../observability/logger.ts';
import type { FactorMethod } from '../store/durable.ts';
import type { EphemeralStore } from '../store/ephemeral.ts';

/**
 * Sending a one-time code for a flow by the factor's own sender (sms, email, …), within the resend
 * cooldown and every send budget (THREATS T9), and what the pages may say about it afterwards.
 * Flows reach it through SecondFactor.
 */

export type CodePurpose = 'login' | 'enable' | 'disable' | 'identity' | 'step_up' | 'risk' | 'recovery';

export type SendResult =
  | {
      readonly ok: true;
      readonly destination: string;
      readonly resendAfter: number;
      /** Milliseconds until a resend is allowed, by the injected clock (for `resend_after`). */
      readonly resendInMs: number;
      readonly expiresAt: number;
    }
  | { readonly ok: false; readonly reason: 'cooldown' | 'budget'; readonly retryAfterMs: number }
  | { readonly ok: false; readonly reason: 'country' }
  | { readonly ok: false; readonly reason: 'delivery'; readonly message: string };

/**
 * What the pages say about sending for one flow, from the server's state (never from the URL):
 * whether a code that can still be entered was sent, whether the last send was refused (so no
 * code went out then), and when a new code may be asked for.
 */
export interface SendState {
  readonly live: boolean;
  readonly refused: 'budget' | 'delivery' | 'country' | null;
  /** Milliseconds until a new code may be asked for (resend cooldown or send budget); 0: now. */
  readonly resendInMs: number;
}

export interface CodeDeliveryDeps {
  readonly factors: FactorRegistry;
  readonly codes: OneTimeCodes;
  readonly budget: SendBudget;
  readonly store: EphemeralStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly audit: AuditRecorder;
  readonly product: string;
  readonly codeLifetimeMs: number;
}

/** The live code's send, so entering it correctly gives its budget slot back (TTL: the code's). */
const RECEIPT = (flowKey: string): string => `send-receipt:${flowKey}`;
/** The flow's last send was refused: why, and until when (server time) a new one may be asked for. */
const REFUSED = (flowKey: string): string => `send-refused:${flowKey}`;
interface StoredReceipt {
  readonly account: string;
  readonly destination: string;
  readonly windows: SendReceipt;
}

export class CodeDelivery {
  constructor(private readonly deps: CodeDeliveryDeps) {}

  /** Sends a one-time code for `flowKey` to a phone or address, within every send budget (T9). */
  async sendCode(input: {
    flowKey: string;
    method: FactorMethod;
    destination: string;
    account: string;
    clientAddress: string;
    purpose: CodePurpose;
    /** Request facts and correlation ids for the audit trail. */
    context?: AuditContext | undefined;
  }): Promise<SendResult> {
    const factor = this.deps.factors.get(input.method);
    const sender = factor.sender;
    if (!sender) throw new Error(`factor ${input.method} sends no codes`);
    const masked = factor.describe(input.destination) as string;
    const audited = (outcome: 'success' | 'failure', reason?: string, provider?: string): void =>
      this.deps.audit.record({
        event: 'code_sent',
        outcome,
        user: input.account,
        ...(reason !== undefined ? { reason } : {}),
        ...fromContext({ client: input.clientAddress, ...input.context }, { channel: input.method, purpose: input.purpose, destination: masked, provider }),
      });
    if (!sender.allowed(input.destination)) {
      audited('failure', 'country_not_allowed');
      await this.refused(input.flowKey, 'country', 0);
      return { ok: false, reason: 'country' };
    }
    // A resend refused by the cooldown must not spend the send budget (it sends nothing).
    const cooldown = await this.deps.codes.canResend(input.flowKey);
    if (!cooldown.ok) {
      audited('failure', 'cooldown');
      return { ok: false, reason: 'cooldown', retryAfterMs: cooldown.retryAfterMs };
    }
    const budget = await this.deps.budget.reserve(input.account, input.destination, input.clientAddress);
    if (!budget.ok) {
      audited('failure', 'send_budget_exhausted');
      await this.refused(input.flowKey, 'budget', budget.retryAfterMs);
      return { ok: false, reason: 'budget', retryAfterMs: budget.retryAfterMs };
    }
    const issued = await this.deps.codes.issue(input.flowKey);
    if ('refused' in issued) {
      audited('failure', 'cooldown');
      return { ok: false, reason: 'cooldown', retryAfterMs: issued.retryAfterMs };
    }
    const message = codeMessage({
      code: issued.code,
      purpose: input.purpose,
      minutes: Math.round(this.deps.codeLifetimeMs / 60_000),
      product: this.deps.product,
    });
    const channel = sender.channel;
    try {
      await channel.send({
        kind: sender.kind,
        to: input.destination,
        subject: message.subject,
        text: message.text,
        html: message.html,
        purpose: 'code',
      });
    } catch (error) {
      // No live code may outlive a failed send: the user would wait for a code that never comes.
      await this.deps.codes.discard(input.flowKey);
      this.deps.logger.error({ err: error, channel: channel.name, purpose: input.purpose }, 'code delivery failed');
      audited('failure', 'delivery_failed', channel.name);
      await this.refused(input.flowKey, 'delivery', 0);
      const message =
        error instanceof ChannelError
          ? error.message
          : 'The code could not be sent. Please try again in a moment.';
      return { ok: false, reason: 'delivery', message };
    }
    this.deps.logger.info({ event: 'code_sent', channel: channel.name, method: input.method, purpose: input.purpose, user: input.account }, 'code sent');
    audited('success', undefined, channel.name);
    const receipt: StoredReceipt = { account: input.account, destination: input.destination, windows: await this.deps.budget.receipt(input.account, input.destination, this.deps.clock.now()) };
    await this.deps.store.set(RECEIPT(input.flowKey), JSON.stringify(receipt), this.deps.codeLifetimeMs);
    await this.deps.store.delete(REFUSED(input.flowKey));
    return {
      ok: true,
      destination: masked,
      resendAfter: issued.resendAfter,
      resendInMs: issued.resendAfter - this.deps.clock.now(),
      expiresAt: issued.expiresAt,
    };
  }

  /** Remembers that no code went out for the flow, and until when (server time) none may be asked for. */
  private async refused(flowKey: string, reason: 'budget' | 'delivery' | 'country', retryAfterMs: number): Promise<void> {
    const until = this.deps.clock.now() + retryAfterMs;
    await this.deps.store.set(REFUSED(flowKey), JSON.stringify({ reason, until }), Math.max(retryAfterMs, this.deps.codeLifetimeMs));
  }

  /** The truth about sending for a flow, for the pages (see SendState). */
  async sendState(flowKey: string): Promise<SendState> {
    const [live, cooldown, raw] = await Promise.all([this.deps.codes.isLive(flowKey), this.deps.codes.canResend(flowKey), this.deps.store.get(REFUSED(flowKey))]);
    const refusal = raw ? (JSON.parse(raw) as { reason: 'budget' | 'delivery' | 'country'; until: number }) : null;
    const waits = [cooldown.ok ? 0 : cooldown.retryAfterMs, refusal ? refusal.until - this.deps.clock.now() : 0];
    return { live, refused: refusal?.reason ?? null, resendInMs: Math.max(0, ...waits) };
  }

  /** A code sent for the flow was entered correctly: its send stops counting (SendBudget.giveBack). */
  async giveBackSend(flowKey: string): Promise<void> {
    const raw = await this.deps.store.get(RECEIPT(flowKey));
    // Taken once: of two correct submissions racing, one gives the slot back.
    if (!raw || !(await this.deps.store.compareAndDelete(RECEIPT(flowKey), raw))) return;
    const receipt = JSON.parse(raw) as StoredReceipt;
    await this.deps.budget.giveBack(receipt.account, receipt.destination, receipt.windows, this.deps.clock.now());
  }

  /** Ends the live code of a flow that ended (the account changed under it): no code of it may count later. */
  async discardCode(flowKey: string): Promise<void> {
    await this.deps.codes.discard(flowKey);
    await this.deps.store.delete(RECEIPT(flowKey));
    await this.deps.store.delete(REFUSED(flowKey));
  }
}
