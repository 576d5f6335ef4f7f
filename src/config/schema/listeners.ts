import { z } from 'zod';
import { cidr, duration, headerPattern, host, port, secretRef } from './primitives.ts';

/** Where the sidecar listens, what it forwards to, and what one client may hold. */

export const listenSchema = z
  .object({ host: host.default('127.0.0.1'), port: port.default(8080) })
  .strict()
  .default({ host: '127.0.0.1', port: 8080 });

/**
 * The admin listener (health, readiness, metrics, and the support API under /admin/). It has its
 * own port and never shares the public one.
 */
export const adminSchema = z
  .object({
    host: host.default('127.0.0.1'),
    port: port.default(9090),
    /**
     * Bearer tokens of the admin API, each named (the name is the audit actor `admin:<name>`).
     * Several at once make rotation possible: add the new one, deploy, remove the old one.
     * GUARD_ADMIN_TOKEN adds (or replaces) the token named `env`. No token: the admin API is off.
     */
    tokens: z
      .array(
        z
          .object({
            name: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,39}$/, 'must be 1-40 lower-case letters, digits or _.- (it names the actor in the audit log)'),
            /** At least 32 characters (checked when the secret is read). */
            token: secretRef,
          })
          .strict(),
      )
      .default([])
      .refine((tokens) => new Set(tokens.map((t) => t.name)).size === tokens.length, 'token names must be unique'),
  })
  .strict()
  .default({ host: '127.0.0.1', port: 9090, tokens: [] });

export const upstreamSchema = z
  .object({
    url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
    connect_timeout: duration.prefault('5s'),
    /** Idle time without a byte from the upstream before the request is answered 504. */
    response_timeout: duration.prefault('60s'),
    /**
     * A pooled upstream connection unused for this long is closed by the sidecar: before the app's
     * own keep-alive timeout (Node's and Apache's 5 s) closes it under a request, and before a
     * load balancer or NAT on the way drops it without a word. A shorter `Keep-Alive: timeout=N`
     * from the app wins (closed 1 s before it).
     */
    idle_timeout: duration.refine((ms) => ms >= 100, 'must be at least 100ms').prefault('4s'),
    max_sockets: z.number().int().min(1).max(65_536).default(256),
    /**
     * The part of max_sockets that requests without a full session (public routes) may hold at
     * once; the rest stays free for signed-in traffic, so anonymous clients cannot starve it.
     */
    anonymous_share: z.number().gt(0).max(1).default(0.5),
    /** A proxied request waiting this long for a free upstream socket is answered 503. */
    queue_timeout: duration.prefault('10s'),
  })
  .strict();

/**
 * What one client may hold on the public listener (THREATS T17): slow heads, slow bodies and
 * slow readers are cut, and one address gets a bounded share of connections and upstream requests.
 */
export const limitsSchema = z
  .object({
    /** The whole request head must arrive within this (408). */
    headers_timeout: duration.refine((ms) => ms >= 100, 'must be at least 100ms').prefault('20s'),
    /**
     * Request bodies: the sidecar's own routes (16 KiB at most) must receive the whole body within
     * this; proxied bodies must deliver body_min_rate in every window of this length (408).
     */
    body_timeout: duration.refine((ms) => ms >= 100, 'must be at least 100ms').prefault('20s'),
    /** Bytes per second a proxied request body must average over each body_timeout window. */
    body_min_rate: z.number().int().min(1).max(1_000_000_000).default(500),
    /**
     * A client that accepts no byte of a response for this long is cut off. While the sidecar
     * waits for the client, the upstream's idle timeout (response_timeout) does not run.
     */
    send_timeout: duration.refine((ms) => ms >= 100, 'must be at least 100ms').prefault('60s'),
    /** Open connections per client address (IPv6: per /64); more are answered 429. */
    connections_per_address: z.number().int().min(1).max(1_000_000).default(256),
    /** Proxied requests in flight (or waiting) per client address (IPv6: per /64); more are answered 429. */
    upstream_requests_per_address: z.number().int().min(1).max(1_000_000).default(64),
  })
  .strict()
  .prefault({});

export const headersSchema = z
  .object({
    /** Extra identity headers stripped from clients, on top of the built-in list. */
    strip: z.array(headerPattern).default([]),
    request_id: z.string().regex(/^[a-z0-9-]+$/).default('x-request-id'),
    /**
     * Framing protection added to upstream HTML responses that set neither X-Frame-Options nor
     * a CSP frame-ancestors (clickjacking): same_origin, deny, or off.
     */
    framing: z.enum(['same_origin', 'deny', 'off']).default('same_origin'),
    /**
     * A client's Authorization header reaches the upstream only when this is true: many legacy
     * apps (PHP wikis, Basic-auth admin areas) sign in whoever sends Basic credentials, which
     * would pass the sidecar's sign-in and second factor unseen.
     */
    forward_authorization: z.boolean().default(false),
  })
  .strict()
  .default({ strip: [], request_id: 'x-request-id', framing: 'same_origin', forward_authorization: false });

/**
 * Forward-auth for an ingress that proxies itself (nginx auth_request, Traefik/Caddy forwardAuth,
 * Envoy ext_authz): README "Forward-auth". Off unless enabled; then `trusted` is required.
 */
export const forwardAuthSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** The ingress addresses (CIDR) whose description of the original request is believed. */
    trusted: z.array(cidr).default([]),
    /** Response header naming the signed-in account (the ingress passes it to the app). */
    user_header: z.string().regex(/^[A-Za-z0-9-]+$/).default('X-Auth-User'),
    /** Response header with the app's session cookie(s) bound to the sidecar session (the ingress sends it as Cookie). */
    upstream_cookie_header: z.string().regex(/^[A-Za-z0-9-]+$/).default('X-Auth-Upstream-Cookie'),
  })
  .strict()
  .prefault({})
  .refine((f) => !f.enabled || f.trusted.length > 0, { message: 'forward_auth.enabled needs forward_auth.trusted: the ingress addresses whose headers are believed', path: ['trusted'] });
