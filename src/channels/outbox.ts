import { appendFile, chmod, mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ChannelError, type Channel, type Message } from './channel.ts';
import { maskEmail, maskPhone } from './phone.ts';

/**
 * The development and demo channel: every message becomes one JSON line in a file (the DESIGN §5
 * contract: `var/outbox.jsonl`, one object per message with at least `channel`, `to`, `text`) and a
 * short line on the console.
 *
 * The file holds live codes, so it is created with mode 0600 (and tightened to 0600 if it was found
 * readable by others). Each line is written with one `appendFile` call on an `O_APPEND` descriptor,
 * one `write(2)` per line, so several processes sharing the file (demo replicas) never interleave
 * partial lines. Not for production: the code is in the clear, here and on the console.
 */
interface OutboxLine {
  /** ISO 8601 time from the injected clock. */
  readonly time: string;
  readonly channel: 'email' | 'sms';
  readonly to: string;
  readonly subject?: string;
  readonly text: string;
  readonly purpose: 'code' | 'notification' | 'alert';
  /** Security alerts only: `kind: "alert"`, the alert's kind (`new_browser`, …) and language. */
  readonly kind?: 'alert';
  readonly alert?: string;
  readonly lang?: string;
}

interface OutboxOptions {
  /** Where the short console line goes; defaults to `console.log`. Pass `() => {}` to silence. */
  readonly console?: (line: string) => void;
  readonly clock: { now(): number };
}

export class OutboxChannel implements Channel {
  readonly name = 'outbox';
  readonly #file: string;
  readonly #console: (line: string) => void;
  readonly #clock: { now(): number };
  #prepared: Promise<void> | undefined;

  constructor(file: string, options: OutboxOptions) {
    this.#file = file;
    this.#console = options.console ?? ((line) => console.log(line));
    this.#clock = options.clock;
  }

  async send(message: Message): Promise<void> {
    const line: OutboxLine = {
      time: new Date(this.#clock.now()).toISOString(),
      channel: message.kind,
      to: message.to,
      ...(message.kind === 'email' && message.subject !== undefined ? { subject: message.subject } : {}),
      text: message.text,
      purpose: message.purpose,
      ...(message.alert ? { kind: 'alert' as const, alert: message.alert.kind, lang: message.alert.lang } : {}),
    };
    try {
      this.#prepared ??= this.#prepare();
      await this.#prepared;
      await appendFile(this.#file, JSON.stringify(line) + '\n', { encoding: 'utf8', mode: 0o600, flag: 'a' });
    } catch (error) {
      this.#prepared = undefined;
      throw new ChannelError('The message could not be sent. Please try again in a moment.', true, { cause: error });
    }
    const to = message.kind === 'sms' ? maskPhone(message.to) : maskEmail(message.to);
    this.#console(`[outbox] ${message.kind} to ${to}: ${oneLine(message.kind === 'email' && message.subject ? `${message.subject} | ${message.text}` : message.text)}`);
  }

  async close(): Promise<void> {}

  /** Creates the directory, and tightens an existing file that others can read. Once per instance. */
  async #prepare(): Promise<void> {
    await mkdir(dirname(this.#file), { recursive: true, mode: 0o700 });
    const info = await stat(this.#file).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null;
      throw error;
    });
    // Best effort: a file owned by another user cannot be tightened, but can still be appended to.
    if (info && (info.mode & 0o077) !== 0) await chmod(this.#file, 0o600).catch(() => undefined);
  }
}

function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 200 ? flat.slice(0, 199) + '…' : flat;
}
