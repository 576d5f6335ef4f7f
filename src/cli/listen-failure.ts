import { ConfigError } from '../config/load.ts';

/** A port in use or not allowed names the variable that moves it; other errors pass unchanged. */
export function listenFailure(error: unknown, what: string, variable: string): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE') return new ConfigError([`${what} is already in use (another instance running?): set ${variable} to a free port`]);
  if (code === 'EACCES') return new ConfigError([`${what} may not be used by this user: set ${variable} to a port above 1023`]);
  return error;
}

