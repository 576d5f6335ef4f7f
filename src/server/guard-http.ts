// Moved to src/http/guard-http.ts (issue 15); kept so route modules not yet moved compile. Remove once none import it.
export * from '../http/guard-http.ts';
