import type { CodeCheck, CodeVerdict } from './factor.ts';
import type { OneTimeCodes } from './one-time-codes.ts';

/**
 * The check every factor that sends its codes shares (sms, email): the code issued for the flow's
 * key, compared by OneTimeCodes with its own attempt cap. The send itself is flows/second-factor.ts'
 * (budget, cooldown, audit), through the factor's CodeSender.
 */
export async function verifySentCode(codes: OneTimeCodes, check: CodeCheck): Promise<CodeVerdict> {
  const verdict = await codes.verify(check.flowKey, check.code);
  if (verdict.ok) return { ok: true };
  if (verdict.reason === 'invalid') return { ok: false, reason: 'invalid', attemptsLeft: verdict.attemptsLeft };
  if (verdict.reason === 'too_many_attempts') return { ok: false, reason: 'too_many_attempts', retryAfterMs: 0 };
  if (verdict.reason === 'malformed') return { ok: false, reason: 'malformed' };
  return { ok: false, reason: 'expired' };
}
