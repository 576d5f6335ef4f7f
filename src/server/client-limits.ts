// Moved to src/entry/client-limits.ts (issue 15); kept so start.ts and tests not yet re-pointed compile. Remove once none import it.
export * from '../entry/client-limits.ts';
