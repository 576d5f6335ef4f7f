/**
 * The registry: every built-in risk signal, in the order assessments report them (the order of
 * `RISK_SIGNALS` in `src/config/schema/risk.ts`). To add a signal: a file here exporting a `RiskSignal`, its
 * entry below, its weight under `risk.signals` in `src/config/schema/risk.ts` (and `RISK_SIGNALS`), and the
 * README's table.
 */
import { newNetwork } from './new-network.ts';
import { recentLoginFailures } from './recent-login-failures.ts';
import { recentVerificationFailures } from './recent-verification-failures.ts';
import { riskyNetwork } from './risky-network.ts';
import { sensitiveBurst } from './sensitive-burst.ts';
import type { BuiltInRiskSignal } from './signal.ts';
import { trustedNetwork } from './trusted-network.ts';
import { unknownDevice } from './unknown-device.ts';
import { userAgentChange } from './user-agent-change.ts';

export type { BuiltInRiskSignal, RiskSignal, SignalOutcome } from './signal.ts';

export const RISK_SIGNAL_REGISTRY: readonly BuiltInRiskSignal[] = Object.freeze([
  unknownDevice,
  newNetwork,
  riskyNetwork,
  trustedNetwork,
  recentLoginFailures,
  recentVerificationFailures,
  sensitiveBurst,
  userAgentChange,
]);

