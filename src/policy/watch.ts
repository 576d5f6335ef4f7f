/**
 * Hot reload of the policy. A reload validates and compiles the whole new policy first and only
 * then swaps it in, in one assignment: a request is decided by the old policy or the new one, never
 * by a mixture, and a broken edit leaves the old policy in force.
 *
 * Change detection uses fs.watch on the policy file or directory and on its parent directory, so
 * that editors which save by writing a new file and renaming it over the old one, and Kubernetes
 * ConfigMap volumes (which swap a `..data` symlink), are noticed. Events are debounced. The server
 * also calls reload() on SIGHUP. No logging here: outcomes go to the callback given to watch().
 */
import { watch as fsWatch, statSync } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { isPolicyFileName, loadPolicy } from './load.ts';
import type { CompiledPolicy } from './types.ts';

/** What caused a reload: a file change seen by the watcher, or an explicit reload() (e.g. SIGHUP). */
export type ReloadOrigin = 'watch' | 'reload' | (string & {});

export type PolicyReloadEvent =
  | { readonly outcome: 'success'; readonly origin: ReloadOrigin; readonly policy: CompiledPolicy; readonly error?: undefined }
  | { readonly outcome: 'failure'; readonly origin: ReloadOrigin; readonly error: Error };

export type ReloadResult = { ok: true; policy: CompiledPolicy } | { ok: false; error: Error };

export interface PolicyHolderOptions {
  /** Quiet period after the last file event before reloading (default 100 ms). */
  readonly debounceMs?: number;
  /** How the policy is loaded (default loadPolicy); for tests. */
  readonly load?: (path: string) => Promise<CompiledPolicy>;
}

const KUBERNETES_DATA_LINK = '..data';

export class PolicyHolder {
  readonly path: string;
  #current: CompiledPolicy;
  #listener: ((event: PolicyReloadEvent) => void) | null = null;
  #targetWatcher: FSWatcher | null = null;
  #parentWatcher: FSWatcher | null = null;
  #timer: NodeJS.Timeout | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  #watching = false;
  #closed = false;
  readonly #debounceMs: number;
  readonly #load: (path: string) => Promise<CompiledPolicy>;

  /** Load the policy at `path` (throws PolicyError when it is invalid) and hold it. */
  static async open(path: string, options: PolicyHolderOptions = {}): Promise<PolicyHolder> {
    const load = options.load ?? loadPolicy;
    return new PolicyHolder(path, await load(path), options);
  }

  constructor(path: string, initial: CompiledPolicy, options: PolicyHolderOptions = {}) {
    this.path = path;
    this.#current = initial;
    this.#debounceMs = options.debounceMs ?? 100;
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
    const run = this.#queue.then(() => this.#reloadNow(origin));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #reloadNow(origin: ReloadOrigin): Promise<ReloadResult> {
    let policy: CompiledPolicy;
    try {
      policy = await this.#load(this.path);
    } catch (caught) {
      const error = caught instanceof Error ? caught : new Error(String(caught));
      this.#emit({ outcome: 'failure', origin, error });
      return { ok: false, error };
    }
    this.#current = policy;
    this.#emit({ outcome: 'success', origin, policy });
    return { ok: true, policy };
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

  /** Reload when the policy files change, reporting every outcome to onEvent. Call once. */
  watch(onEvent: (event: PolicyReloadEvent) => void): void {
    this.#listener = onEvent;
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
        if (relevant(filename === null ? null : String(filename))) this.#schedule();
      });
      watcher.on('error', () => {
        watcher.close();
        if (this.#targetWatcher === watcher) this.#targetWatcher = null;
        if (this.#parentWatcher === watcher) this.#parentWatcher = null;
        this.#schedule();
      });
      return watcher;
    } catch {
      return null;
    }
  }

  #schedule(): void {
    if (this.#closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#closed) return;
      this.#armTarget();
      void this.reload('watch');
    }, this.#debounceMs);
    this.#timer.unref();
  }

  /** Stop watching. The held policy stays readable; reload() still works. */
  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#targetWatcher?.close();
    this.#parentWatcher?.close();
    this.#targetWatcher = null;
    this.#parentWatcher = null;
  }
}
