/**
 * Hot reload of the policy. A reload validates and compiles the whole new policy first and only
 * then swaps it in, in one assignment: a request is decided by the old policy or the new one, never
 * by a mixture, and a broken edit leaves the old policy in force.
 *
 * Change detection uses fs.watch on the policy file or directory and on its parent directory, so
 * that editors which save by writing a new file and renaming it over the old one, and Kubernetes
 * ConfigMap volumes (which swap a `..data` symlink), are noticed. The server also calls reload() on
 * SIGHUP. No logging here: outcomes go to the callback given to watch().
 *
 * Only complete files are reloaded (issue 14 item 14): a file rewritten in place in several writes
 * is valid YAML after the first one, and that half would be put in force. So each change takes a
 * fingerprint of the files (size, mtime, SHA-256 of the content), and the reload waits until the
 * fingerprint has stayed the same for the settle time (each new change restarts the wait); after
 * loading, the fingerprint is taken again and a file that changed while it was read is not used.
 * A watched reload that weakens a sensitive rule (see diff.ts) is held until confirmed with
 * SIGHUP (an explicit reload()), so a truncated or mistaken edit cannot drop protection silently.
 */
import { createHash } from 'node:crypto';
import { watch as fsWatch, readdirSync, readFileSync, statSync } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { diffPolicies, type PolicyDiff } from './diff.ts';
import { isPolicyFileName, loadPolicy } from './load.ts';
import type { CompiledPolicy } from './types.ts';

/** What caused a reload: a file change seen by the watcher, or an explicit reload() (e.g. SIGHUP). */
type ReloadOrigin = 'watch' | 'reload' | (string & {});

export type PolicyReloadEvent =
  | { readonly outcome: 'success'; readonly origin: ReloadOrigin; readonly policy: CompiledPolicy; readonly diff: PolicyDiff; readonly error?: undefined }
  | { readonly outcome: 'held'; readonly origin: ReloadOrigin; readonly policy: CompiledPolicy; readonly diff: PolicyDiff; readonly error?: undefined }
  | { readonly outcome: 'failure'; readonly origin: ReloadOrigin; readonly error: Error };

type ReloadResult =
  | { ok: true; policy: CompiledPolicy; diff: PolicyDiff }
  | { ok: false; held: true; policy: CompiledPolicy; diff: PolicyDiff; error?: undefined }
  | { ok: false; held?: false; error: Error };

/** Timers, injectable so tests drive the settle time without racing the wall clock. */
export interface PolicyTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: PolicyTimers = {
  setTimeout: (fn, ms) => {
    const handle = setTimeout(fn, ms);
    handle.unref();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

interface PolicyHolderOptions {
  /**
   * How long the files must stay unchanged (size, mtime, content) before a watched change is
   * reloaded; each change restarts the wait (default 2000 ms; config `policy_reload.settle`).
   */
  readonly settleMs?: number;
  /** Older name of settleMs. */
  readonly debounceMs?: number;
  /** Hold a watched reload that weakens a sensitive rule until reload() (SIGHUP) confirms it (default true). */
  readonly holdWeakening?: boolean;
  readonly timers?: PolicyTimers;
  /** How the policy is loaded (default loadPolicy); for tests. */
  readonly load?: (path: string) => Promise<CompiledPolicy>;
}

/** size, mtime and SHA-256 of every policy file, in name order; null when it cannot be read. */
export function fingerprint(path: string): string | null {
  const hash = createHash('sha256');
  const add = (file: string): void => {
    const info = statSync(file);
    if (!info.isFile()) return;
    hash.update(`${file}\0${info.size}\0${info.mtimeMs}\0`);
    hash.update(readFileSync(file));
  };
  try {
    if (statSync(path).isDirectory()) {
      for (const name of readdirSync(path).filter(isPolicyFileName).sort()) add(join(path, name));
    } else {
      add(path);
    }
  } catch {
    return null;
  }
  return hash.digest('hex');
}

const KUBERNETES_DATA_LINK = '..data';

export class PolicyHolder {
  readonly path: string;
  #current: CompiledPolicy;
  #listener: ((event: PolicyReloadEvent) => void) | null = null;
  #targetWatcher: FSWatcher | null = null;
  #parentWatcher: FSWatcher | null = null;
  #timer: unknown = null;
  #seen: string | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  #watching = false;
  #closed = false;
  readonly #settleMs: number;
  readonly #holdWeakening: boolean;
  readonly #timers: PolicyTimers;
  readonly #load: (path: string) => Promise<CompiledPolicy>;

  /** Load the policy at `path` (throws PolicyError when it is invalid) and hold it. */
  static async open(path: string, options: PolicyHolderOptions = {}): Promise<PolicyHolder> {
    const load = options.load ?? loadPolicy;
    return new PolicyHolder(path, await load(path), options);
  }

  constructor(path: string, initial: CompiledPolicy, options: PolicyHolderOptions = {}) {
    this.path = path;
    this.#current = initial;
    this.#settleMs = options.settleMs ?? options.debounceMs ?? 2000;
    this.#holdWeakening = options.holdWeakening ?? true;
    this.#timers = options.timers ?? realTimers;
    this.#load = options.load ?? loadPolicy;
  }

  /** The policy in force. Read it once per request and decide with that value. */
  get current(): CompiledPolicy {
    return this.#current;
  }

  /**
   * Load, validate and compile the policy again; swap it in only when all of that succeeded.
   * Reloads run one at a time in call order, so a slow older reload cannot overwrite a newer one.
   * The outcome is also reported to the watch() callback, if any.
   */
  reload(origin: ReloadOrigin = 'reload'): Promise<ReloadResult> {
    return this.#enqueue(origin, null);
  }

  #enqueue(origin: ReloadOrigin, expected: string | null): Promise<ReloadResult> {
    const run = this.#queue.then(() => this.#reloadNow(origin, expected));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * `expected`: the fingerprint a watched reload waited to see settle; when the files no longer
   * match it after loading, they changed while being read, and the wait starts again.
   */
  async #reloadNow(origin: ReloadOrigin, expected: string | null): Promise<ReloadResult> {
    let policy: CompiledPolicy;
    try {
      policy = await this.#load(this.path);
    } catch (caught) {
      if (expected !== null && fingerprint(this.path) !== expected) return this.#restart();
      const error = caught instanceof Error ? caught : new Error(String(caught));
      this.#emit({ outcome: 'failure', origin, error });
      return { ok: false, error };
    }
    if (expected !== null && fingerprint(this.path) !== expected) return this.#restart();
    const diff = diffPolicies(this.#current, policy);
    // An explicit reload (SIGHUP) is the confirmation; a file change alone may not weaken protection.
    if (origin === 'watch' && this.#holdWeakening && diff.weakened.length > 0) {
      this.#emit({ outcome: 'held', origin, policy, diff });
      return { ok: false, held: true, policy, diff };
    }
    this.#current = policy;
    this.#emit({ outcome: 'success', origin, policy, diff });
    return { ok: true, policy, diff };
  }

  #restart(): ReloadResult {
    this.changed();
    return { ok: false, error: new Error('the policy files changed while they were read; waiting for them to settle') };
  }

  #emit(event: PolicyReloadEvent): void {
    const listener = this.#listener;
    if (!listener) return;
    try {
      listener(event);
    } catch {
      // a failing listener must not break reloading
    }
  }

  /**
   * Reload when the policy files change, reporting every outcome to onEvent. Call once. With
   * `fileEvents: false` nothing is watched and only changed() (tests) or reload() trigger reloads.
   */
  watch(onEvent: (event: PolicyReloadEvent) => void, options: { readonly fileEvents?: boolean } = {}): void {
    this.#listener = onEvent;
    if (options.fileEvents === false) return;
    if (this.#watching || this.#closed) return;
    this.#watching = true;
    const target = resolve(this.path);
    const name = basename(target);
    this.#parentWatcher = this.#open(dirname(target), (filename) =>
      filename === null || filename === name || filename === KUBERNETES_DATA_LINK,
    );
    this.#armTarget();
  }

  /** (Re)open the watcher on the file or directory itself: after a rename-over save it watched a dead inode. */
  #armTarget(): void {
    this.#targetWatcher?.close();
    this.#targetWatcher = null;
    if (this.#closed) return;
    let isDirectory = false;
    try {
      isDirectory = statSync(this.path).isDirectory();
    } catch {
      return; // gone for now; the parent watcher sees it come back
    }
    this.#targetWatcher = this.#open(resolve(this.path), (filename) =>
      !isDirectory || filename === null || filename === KUBERNETES_DATA_LINK || isPolicyFileName(filename),
    );
  }

  #open(path: string, relevant: (filename: string | null) => boolean): FSWatcher | null {
    try {
      const watcher = fsWatch(path, { persistent: false }, (_event, filename) => {
        if (relevant(filename === null ? null : String(filename))) this.changed();
      });
      watcher.on('error', () => {
        watcher.close();
        if (this.#targetWatcher === watcher) this.#targetWatcher = null;
        if (this.#parentWatcher === watcher) this.#parentWatcher = null;
        this.changed();
      });
      return watcher;
    } catch {
      return null;
    }
  }

  /**
   * A change was seen (the watcher calls this; tests call it for deterministic events): note the
   * files' fingerprint now and reload once it has stayed the same for the settle time.
   */
  changed(): void {
    if (this.#closed) return;
    this.#seen = fingerprint(this.path);
    if (this.#timer !== null) this.#timers.clearTimeout(this.#timer);
    this.#timer = this.#timers.setTimeout(() => this.#settled(), this.#settleMs);
  }

  #settled(): void {
    this.#timer = null;
    if (this.#closed) return;
    this.#armTarget();
    const now = fingerprint(this.path);
    if (now !== this.#seen) {
      // Changed without an event reaching us (or between the event and now): wait again.
      this.changed();
      return;
    }
    void this.#enqueue('watch', now);
  }

  /** Stop watching. The held policy stays readable; reload() still works. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== null) this.#timers.clearTimeout(this.#timer);
    this.#timer = null;
    this.#targetWatcher?.close();
    this.#parentWatcher?.close();
    this.#targetWatcher = null;
    this.#parentWatcher = null;
  }
}
