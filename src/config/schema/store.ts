import { z } from 'zod';
import { duration, hostPort, secretRef } from './primitives.ts';

/**
 * How to reach Redis: exactly one of `url` (standalone), `sentinel` or `cluster`. Credentials are
 * secret references, never inline: a password in `url` is refused, use `password` instead.
 */
export const redisSchema = z
  .object({
    /**
     * redis://host:port/db or rediss:// (TLS) for a standalone server; or a secret reference to such
     * a URL (GUARD_REDIS_URL becomes {env: GUARD_REDIS_URL}), which may then carry the password.
     */
    url: z
      .union([secretRef, z
      .string()
      .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
      .refine((value) => {
        try {
          return new URL(value).password === '';
        } catch {
          return false;
        }
      }, 'must be a valid URL without a password in it (use password: {env: …} or {file: …})')])
      .optional(),
    sentinel: z
      .object({
        /** The master group name the sentinels watch. */
        name: z.string().min(1),
        nodes: z.array(hostPort).min(1),
        password: secretRef.optional(),
        db: z.number().int().min(0).max(15).default(0),
      })
      .strict()
      .optional(),
    cluster: z.object({ nodes: z.array(hostPort).min(1) }).strict().optional(),
    /** ACL user (Redis 6+); goes with password. */
    username: z.string().min(1).optional(),
    password: secretRef.optional(),
    tls: z
      .object({
        /** PEM file of the CA that signed the server's certificate (default: the system's CAs). */
        ca: z.string().min(1).optional(),
        /** Client certificate and key (PEM files) for mutual TLS. */
        cert: z.string().min(1).optional(),
        key: z.string().min(1).optional(),
        servername: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    /** Prepended to every key, so several deployments can share one Redis. */
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1-64 letters, digits or _.:-')
      .default('spg:'),
    connect_timeout: duration.prefault('5s'),
    command_timeout: duration.prefault('1s'),
  })
  .strict()
  .refine((r) => [r.url, r.sentinel, r.cluster].filter((x) => x !== undefined).length === 1, {
    message: 'give exactly one of url, sentinel or cluster',
  })
  .refine((r) => r.username === undefined || r.password !== undefined, {
    message: 'username needs a password',
    path: ['password'],
  })
  .refine((r) => (r.tls?.cert === undefined) === (r.tls?.key === undefined), {
    message: 'cert and key go together',
    path: ['tls'],
  });

/**
 * Where state lives. `embedded` (one process): ephemeral state in memory, durable records
 * (2FA enrollments, encrypted secrets, recovery codes, known devices, audit) in SQLite.
 * `redis` (several replicas): everything in Redis. GUARD_REDIS_URL selects redis with that URL.
 */
export const storeSchema = z
  .object({
    kind: z.enum(['embedded', 'redis']).default('embedded'),
    /** SQLite file for the durable records, relative to this config file. */
    sqlite: z.string().min(1).default('../var/guard.db'),
    redis: redisSchema.optional(),
  })
  .strict()
  .prefault({})
  .refine((store) => store.kind !== 'redis' || store.redis !== undefined, {
    message: 'kind: redis needs a redis section (url, sentinel or cluster) or GUARD_REDIS_URL',
    path: ['redis'],
  });
