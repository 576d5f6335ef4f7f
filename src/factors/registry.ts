import type { FactorMethod } from '../store/durable.ts';
import type { Factor } from './factor.ts';
import type { RecoveryCodes } from './recovery/factor.ts';

/**
 * The second-factor methods this sidecar knows, by method name. The composition root registers
 * the built-in ones (src/server/second-factor.ts); a new method registers here and the
 * flows serve it without naming it. Recovery codes come with every enrollment and stand beside
 * the methods.
 */
export class FactorRegistry {
  private readonly factors = new Map<string, Factor>();

  constructor(
    readonly recovery: RecoveryCodes,
    factors: readonly Factor[] = [],
  ) {
    for (const factor of factors) this.register(factor);
  }

  register(factor: Factor): this {
    if (this.factors.has(factor.method)) throw new Error(`factor ${factor.method} is registered twice`);
    this.factors.set(factor.method, factor);
    return this;
  }

  /** The factor of `method`, or undefined for a name no factor answers to (input from a form). */
  find(method: unknown): Factor | undefined {
    return typeof method === 'string' ? this.factors.get(method) : undefined;
  }

  /** The factor of a method the store or a flow record names (it was registered when written). */
  get(method: FactorMethod): Factor {
    const factor = this.factors.get(method);
    if (!factor) throw new Error(`no factor is registered for method ${method}`);
    return factor;
  }

  /** The masked destination of `method` (null when it sends nothing, or none is known). */
  describe(method: FactorMethod, destination: string | null): string | null {
    return this.factors.get(method)?.describe(destination) ?? null;
  }

  /** Whether codes of `method` are sent (false: read off a device). */
  sends(method: FactorMethod): boolean {
    return this.factors.get(method)?.sender !== undefined;
  }

  methods(): FactorMethod[] {
    return [...this.factors.keys()] as FactorMethod[];
  }
}
