/**
 * Which relying party (RP ID and origins) a passkey ceremony is bound to, from the config and the
 * request's own address: a request from an address that is not one of them gets none, so passkeys
 * refuse there rather than bind to a phishing host (THREATS T27).
 */

/** The relying party the ceremonies are bound to. */
export interface RelyingParty {
  /** A registrable domain suffix of every origin (e.g. `example.com`, `localhost`); never an IP address. */
  readonly id: string;
  readonly name: string;
  /** Full origins (`https://app.example.com`) the browser may report in clientDataJSON. */
  readonly origins: readonly string[];
}

/** Config `webauthn` as mapped once (src/config/schema.ts). */
export interface WebAuthnSettings {
  readonly rpId: string | null;
  readonly rpName: string;
  readonly origins: readonly string[] | null;
  /** Origin of `public_url`, when configured. */
  readonly publicOrigin: string | null;
}

/** Config `webauthn` mapped once (rp_name defaults to product.name). */
export function webauthnSettings(config: { webauthn: { rp_id?: string | undefined; rp_name?: string | undefined; origins?: string[] | undefined }; public_url?: string | undefined; product: { name: string } }): WebAuthnSettings {
  return {
    rpId: config.webauthn.rp_id?.toLowerCase() ?? null,
    rpName: config.webauthn.rp_name ?? config.product.name,
    origins: config.webauthn.origins?.map((o) => new URL(o).origin) ?? null,
    publicOrigin: config.public_url !== undefined ? new URL(config.public_url).origin : null,
  };
}

/**
 * The relying party for a request, or null when passkeys cannot be used from where it came:
 * configured origins win, then `public_url`; without either, only a request to `localhost` (a
 * development setup) names its own origin. Anything else would trust the request's Host header.
 */
export function relyingParty(settings: WebAuthnSettings, request: { proto: string; host: string }): RelyingParty | null {
  const origins = settings.origins ?? (settings.publicOrigin !== null ? [settings.publicOrigin] : null);
  if (origins !== null && origins.length > 0) {
    const id = settings.rpId ?? new URL(origins[0] as string).hostname;
    // The RP ID must be each origin's host or a parent domain of it (WebAuthn §5.1.3 step 8).
    const covers = origins.every((o) => {
      const host = new URL(o).hostname;
      return host === id || host.endsWith(`.${id}`);
    });
    return isDomain(id) && covers ? { id, name: settings.rpName, origins } : null;
  }
  let url: URL;
  try {
    url = new URL(`${request.proto}://${request.host}`);
  } catch {
    return null;
  }
  if (url.hostname !== 'localhost' || (settings.rpId !== null && settings.rpId !== 'localhost')) return null;
  return { id: 'localhost', name: settings.rpName, origins: [url.origin] };
}

function isDomain(id: string): boolean {
  return /^[a-z0-9.-]+$/i.test(id) && !/^[0-9.]+$/.test(id) && !id.includes(':');
}
