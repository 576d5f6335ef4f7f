import { randomBytes } from 'node:crypto';
import pg from 'pg';
import mysql from 'mysql2/promise';

/**
 * Throwaway databases on the machine's real PostgreSQL (127.0.0.1:5432) and MariaDB/MySQL
 * (127.0.0.1:3306) for the directory tests: each test gets its own database and a user that may
 * only SELECT, and both are dropped afterwards. Administrative access comes from
 * SPG_TEST_PG_URL / SPG_TEST_MYSQL_URL, by default the local superusers without a password
 * (trust on loopback, as on these machines and in CI's set-up in .ci/run).
 *
 * A server that cannot be reached gives null so the caller skips with a notice; with CI=true it
 * is an error instead, because the suite must not pass by skipping a driver.
 */

export interface ThrowawayDatabase {
  /** Connection URL of the SELECT-only user, for the directory under test. */
  readonly url: string;
  /** Runs SQL as the administrator inside the throwaway database (setting up rows). */
  admin(sql: string, params?: unknown[]): Promise<void>;
  drop(): Promise<void>;
}

const PG_ADMIN = process.env['SPG_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MYSQL_ADMIN = process.env['SPG_TEST_MYSQL_URL'] ?? 'mysql://root@127.0.0.1:3306/';

function unavailable(what: string, error: unknown): null {
  const message = `${what} is not reachable (${(error as Error).message})`;
  if (process.env['CI'] === 'true') throw new Error(`${message}, but CI=true: the directory tests must run against it (.ci/run sets it up)`);
  console.warn(`\n*** SKIPPING the ${what} directory tests: ${message}. Set the admin URL in the environment to run them. ***\n`);
  return null;
}

const suffix = (): string => randomBytes(6).toString('hex');

export async function postgresDatabase(): Promise<ThrowawayDatabase | null> {
  const root = new pg.Client({ connectionString: PG_ADMIN, connectionTimeoutMillis: 5_000 });
  try {
    await root.connect();
  } catch (error) {
    return unavailable('PostgreSQL', error);
  }
  const name = `spg_dir_${suffix()}`;
  const password = `pw_${suffix()}`;
  await root.query(`CREATE DATABASE ${name}`);
  await root.query(`CREATE ROLE ${name} LOGIN PASSWORD '${password}'`);
  const base = new URL(PG_ADMIN);
  const adminUrl = new URL(PG_ADMIN);
  adminUrl.pathname = `/${name}`;
  const db = new pg.Client({ connectionString: adminUrl.toString(), connectionTimeoutMillis: 5_000 });
  await db.connect();
  await db.query(`GRANT CONNECT ON DATABASE ${name} TO ${name}`);
  return {
    url: `postgres://${name}:${password}@${base.host}/${name}`,
    async admin(sql, params) {
      await db.query(sql, params);
      // New tables are readable by the directory's user, nothing more.
      await db.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${name}`);
    },
    async drop() {
      await db.end();
      await root.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [name]);
      await root.query(`DROP DATABASE IF EXISTS ${name}`);
      await root.query(`DROP ROLE IF EXISTS ${name}`);
      await root.end();
    },
  };
}

export async function mysqlDatabase(): Promise<ThrowawayDatabase | null> {
  let root: mysql.Connection;
  try {
    root = await mysql.createConnection({ uri: MYSQL_ADMIN, connectTimeout: 5_000 });
  } catch (error) {
    return unavailable('MariaDB/MySQL', error);
  }
  const name = `spg_dir_${suffix()}`;
  const password = `pw_${suffix()}`;
  await root.query(`CREATE DATABASE ${name}`);
  await root.query(`CREATE USER '${name}'@'127.0.0.1' IDENTIFIED BY '${password}'`);
  await root.query(`CREATE USER '${name}'@'localhost' IDENTIFIED BY '${password}'`);
  await root.query(`GRANT SELECT ON ${name}.* TO '${name}'@'127.0.0.1'`);
  await root.query(`GRANT SELECT ON ${name}.* TO '${name}'@'localhost'`);
  await root.query(`USE ${name}`);
  const host = new URL(MYSQL_ADMIN).host;
  return {
    url: `mysql://${name}:${password}@${host}/${name}`,
    async admin(sql, params) {
      await root.query(sql, params);
    },
    async drop() {
      await root.query(`DROP DATABASE IF EXISTS ${name}`);
      await root.query(`DROP USER IF EXISTS '${name}'@'127.0.0.1'`);
      await root.query(`DROP USER IF EXISTS '${name}'@'localhost'`);
      await root.end();
    },
  };
}
