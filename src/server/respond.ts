// Moved to src/http/answer.ts (issue 15); kept so route modules not yet moved compile. Remove once none import it.
export * from '../http/answer.ts';
