import { pino, type Logger, type DestinationStream } from 'pino';

/**
 * Structured JSON logs. Anything that could carry a secret is redacted by path, so a careless
 * `log.info({ req })` cannot leak a cookie, a bearer token, a password or a code.
 */
const REDACTED_PATHS = [
  'req.headers.cookie',
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
  'headers.cookie',
  'headers.authorization',
  '*.password',
  '*.code',
  '*.token',
  '*.secret',
  // Top level and one level down: credentials, codes shown once, cookies the sidecar withholds.
  // (A top-level `code` stays: it names error codes such as HPE_HEADER_OVERFLOW.)
  'password',
  'token',
  'secret',
  'cookie',
  'authorization',
  '*.cookie',
  '*.authorization',
  'recovery_codes',
  '*.recovery_codes',
  'recoveryCodes',
  '*.recoveryCodes',
  'otpauth_uri',
  '*.otpauth_uri',
  'totpSecret',
  '*.totpSecret',
  'setCookies',
  '*.setCookies',
  'upstreamSetCookies',
  '*.upstreamSetCookies',
  'upstreamCookies',
  '*.upstreamCookies',
  'cookieValue',
  '*.cookieValue',
  'headers["set-cookie"]',
];

export type { Logger };

let stampedMs = -1;
let stamp = '';
let stampedSecond = Number.NaN;
let secondPrefix = '';
/**
 * pino's isoTime, formatted once per millisecond, and `toISOString` once per second: under load
 * several access-log lines share a millisecond and most share a second, and `toISOString` was a
 * visible share of a proxied request's CPU. Only the milliseconds change within a second.
 */
// A log line carries the machine's wall time (what operators correlate with), not the injected clock.
export function isoTimeOncePerMs(now: number = Date.now()): string {
  if (now !== stampedMs) {
    stampedMs = now;
    const millis = ((now % 1000) + 1000) % 1000;
    const second = now - millis;
    if (second !== stampedSecond) {
      stampedSecond = second;
      // "…T19:34:12.000Z" without its "000Z".
      secondPrefix = `,"time":"${new Date(second).toISOString().slice(0, -4)}`;
    }
    stamp = `${secondPrefix}${millis < 10 ? '00' : millis < 100 ? '0' : ''}${millis}Z"`;
  }
  return stamp;
}

/**
 * A stream is used as given (tests capture lines); a file descriptor or path gets a buffered
 * asynchronous writer, because a synchronous write per access-log line is a system call per
 * request on the hot path. Buffered lines are flushed when the process exits.
 */
export function createLogger(level: string, destination: DestinationStream | number | string = 1): Logger {
  const options = {
    level,
    base: { service: 'smartpush-guard' },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: isoTimeOncePerMs,
  };
  if (typeof destination === 'object') return withCheapPrimitives(pino(options, destination));
  const stream = new LineBatch(pino.destination({ dest: destination, sync: false, minLength: WRITE_AT_BYTES, maxWrite: 2 * WRITE_AT_BYTES }));
  // A quiet sidecar must not hold its lines back: what is buffered is written at least every second.
  setInterval(() => {
    stream.flush();
  }, 1000).unref();
  process.once('exit', () => {
    try {
      stream.flushSync();
    } catch {
      // Nothing more can be done for log lines at exit.
    }
  });
  return withCheapPrimitives(pino(options, stream as unknown as DestinationStream));
}

/** Lines are handed to the writer in batches of about this many characters. */
const LINE_BATCH_CHARS = 4096;

/** The writer writes once this much is buffered (and every second), in writes of at most twice that. */
const WRITE_AT_BYTES = 32 * 1024;

type Destination = ReturnType<typeof pino.destination>;

/**
 * Collects log lines and hands them to the buffered writer (sonic-boom) about 4 KiB at a time.
 * sonic-boom measures the UTF-8 length of its whole pending buffer on every write, which flattens
 * a string of up to 4 KiB per line: about 1.5 µs of an access-log line (issue 16). Every line goes
 * through here, so their order is kept; flush() and flushSync() pass the held lines on first.
 */
export class LineBatch {
  private pending: string[] = [];
  private chars = 0;

  constructor(private readonly stream: Pick<Destination, 'write' | 'flush' | 'flushSync'>) {}

  write(line: string): boolean {
    this.pending.push(line);
    this.chars += line.length;
    if (this.chars >= LINE_BATCH_CHARS) this.handOn();
    return true;
  }

  flush(callback?: (error?: Error) => void): void {
    this.handOn();
    this.stream.flush(callback);
  }

  flushSync(): void {
    this.handOn();
    this.stream.flushSync();
  }

  /** Hands the held lines to the writer (which writes them when its own buffer is due). */
  private handOn(): void {
    if (this.pending.length === 0) return;
    const text = this.pending.length === 1 ? (this.pending[0] as string) : this.pending.join('');
    this.pending = [];
    this.chars = 0;
    this.stream.write(text);
  }
}

/**
 * pino runs the redactor of the `*.x` paths on every field of every line, strings and numbers
 * included, and that redactor parses all of its paths again on each call: ≈ 30 µs per sign-in
 * line, three lines per sign-in (issue 16). A `*.x` path names a key inside an object, so it can
 * never change a string, number or boolean: those are written as JSON directly. Objects still go
 * through the redactor, and top-level paths keep their own censor (looked up before the wildcard).
 */
function withCheapPrimitives(logger: Logger): Logger {
  const sym = pino.symbols as unknown as Record<string, symbol>;
  const stringifiersKey = sym['stringifiersSym'];
  const wildcard = sym['wildcardFirstSym'];
  if (stringifiersKey === undefined || wildcard === undefined) return logger;
  const stringifiers = (logger as unknown as Record<symbol, Record<symbol, unknown> | undefined>)[stringifiersKey];
  const redactor = stringifiers?.[wildcard];
  if (stringifiers === undefined || typeof redactor !== 'function') return logger;
  stringifiers[wildcard] = (value: unknown, ...rest: unknown[]): unknown => {
    switch (typeof value) {
      case 'string':
      case 'number':
      case 'boolean':
        return JSON.stringify(value);
      default:
        return (redactor as (...args: unknown[]) => unknown)(value, ...rest);
    }
  };
  return logger;
}

/** One access-log line's fields, in the order they are written (undefined ones are left out). */
export class AccessEntry {
  constructor(
    readonly requestId: string,
    readonly method: string | undefined,
    readonly path: string | undefined,
    readonly status: number,
    readonly rule: string | undefined,
    readonly decision: string | undefined,
    readonly client: string,
    readonly ms: number,
  ) {}
}

const ACCESS_KEYS = ['requestId', 'method', 'path', 'status', 'rule', 'decision', 'client', 'ms'] as const;

type AsJson = (this: Logger, obj: object, msg: unknown, num: number, time: string) => string;

/** A string as a JSON string literal (pino writes the same, except for lone surrogates, which are escaped here). */
const quoted = (value: string): string => JSON.stringify(value);

/**
 * The literal of a field with few values (method, rule, decision, client address, message),
 * remembered: a look-up costs less than escaping the string again. Bounded: cleared when full.
 */
const knownLiterals = new Map<string, string>();
const KNOWN_LITERALS_MAX = 1024;
function quotedKnown(value: string): string {
  let literal = knownLiterals.get(value);
  if (literal === undefined) {
    if (knownLiterals.size >= KNOWN_LITERALS_MAX) knownLiterals.clear();
    literal = quoted(value);
    knownLiterals.set(value, literal);
  }
  return literal;
}

/**
 * The access log: a child logger (no redaction: its lines carry no secret-bearing field) whose
 * `AccessEntry` lines are serialised directly. pino serialises a logged object key by key (a
 * serializer and a stringifier looked up and the key escaped for every key), which was ≈ 5 % of a
 * proxied request's CPU; an access line has a fixed shape, so it is written in one pass, with the
 * same bytes pino would write: level, time, the logger's bindings, the fields, `msg`. Everything
 * else of pino's stays (level check, mixin, hooks, the destination); a logger configured in a way
 * that could change the line (serializers, stringifiers or a nested key for these fields, a log
 * formatter, a mixin) gets pino's own serialisation, as does anything that is not an AccessEntry.
 */
export function createAccessLog(log: Logger): (entry: AccessEntry) => void {
  const child = log.child({}, { redact: [] });
  const own = child as unknown as Record<symbol, unknown>;
  const sym = pino.symbols as unknown as Record<string, symbol>;
  const at = (name: string): unknown => {
    const key = sym[name];
    return key === undefined ? undefined : own[key];
  };
  const asJsonKey = sym['asJsonSym'];
  const original = asJsonKey === undefined ? undefined : (own[asJsonKey] as AsJson | undefined);
  const serializers = (at('serializersSym') ?? {}) as Record<string, unknown>;
  const stringifiers = (at('stringifiersSym') ?? {}) as Record<string | symbol, unknown>;
  const formatters = (at('formattersSym') ?? {}) as { log?: unknown };
  const wildcard = sym['wildcardFirstSym'];
  const lsCache = at('lsCacheSym') as Record<number, string> | undefined;
  const messageKey = at('messageKeySym');
  const end = at('endSym');
  const plain =
    original !== undefined &&
    lsCache !== undefined &&
    typeof messageKey === 'string' &&
    typeof end === 'string' &&
    typeof at('chindingsSym') === 'string' &&
    !at('nestedKeySym') &&
    !at('mixinSym') &&
    formatters.log === undefined &&
    (wildcard === undefined || stringifiers[wildcard] === undefined) &&
    ACCESS_KEYS.every((key) => serializers[key] === undefined && stringifiers[key] === undefined) &&
    serializers[messageKey] === undefined &&
    stringifiers[messageKey] === undefined;
  if (plain && asJsonKey !== undefined) {
    const msgKey = `,${quoted(messageKey)}:`;
    const chindingsKey = sym['chindingsSym'] as symbol;
    own[asJsonKey] = function accessAsJson(this: Logger, obj: object, msg: unknown, num: number, time: string): string {
      if (!(obj instanceof AccessEntry) || typeof msg !== 'string') return original.call(this, obj, msg, num, time);
      const self = this as unknown as Record<symbol, unknown>;
      let line = `${lsCache[num] ?? ''}${time}${self[chindingsKey] as string},"requestId":${quoted(obj.requestId)}`;
      if (obj.method !== undefined) line += `,"method":${quotedKnown(obj.method)}`;
      if (obj.path !== undefined) line += `,"path":${quoted(obj.path)}`;
      line += `,"status":${Number.isFinite(obj.status) ? obj.status : 'null'}`;
      if (obj.rule !== undefined) line += `,"rule":${quotedKnown(obj.rule)}`;
      if (obj.decision !== undefined) line += `,"decision":${quotedKnown(obj.decision)}`;
      line += `,"client":${quotedKnown(obj.client)},"ms":${Number.isFinite(obj.ms) ? obj.ms : 'null'}`;
      return `${line}${msgKey}${quotedKnown(msg)}${end as string}`;
    };
  }
  // The line goes straight to the destination when nothing of pino's between the call and the
  // write could change it (no hook, no message prefix, a plain stream): pino's call and write steps
  // (arguments copied, the message formatted, the object checked for a request or response) cost
  // about as much as building the line.
  const time = at('timeSym');
  const hooks = at('hooksSym') as { logMethod?: unknown; streamWrite?: unknown } | undefined;
  const stream = at('streamSym') as { write?: unknown; [key: symbol]: unknown } | undefined;
  const needsMetadata = Symbol.for('pino.metadata');
  const direct =
    plain &&
    typeof time === 'function' &&
    hooks?.logMethod === undefined &&
    hooks?.streamWrite === undefined &&
    at('msgPrefixSym') === undefined &&
    typeof stream?.write === 'function' &&
    stream[needsMetadata] !== true;
  if (direct && asJsonKey !== undefined) {
    const asJson = own[asJsonKey] as AsJson;
    const level = child.levels.values['info'] ?? 30;
    const write = (stream.write as (line: string) => unknown).bind(stream);
    return (entry) => {
      if (child.isLevelEnabled('info')) write(asJson.call(child, entry, 'request', level, (time as () => string).call(child)));
    };
  }
  return (entry) => {
    child.info(entry, 'request');
  };
}
