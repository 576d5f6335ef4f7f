import Database from 'better-sqlite3';
import type pg from 'pg';
import type mysql from 'mysql2/promise';
import { lazyModule } from '../core/lazy-module.ts';
import { bindIdentifier } from './sql-placeholders.ts';
import { entryOf } from './values.ts';
import { failed, found, type Directory, type DirectoryResult, type LookupContext } from './types.ts';

/**
 * A read-only query on the app's own database. The query names the account with `:identifier`
 * (bound, never interpolated) and returns one row with an `email` and/or a `phone` column. No row
 * is `not_found`, several rows are `ambiguous` (refused: the wrong person would get the code).
 *
 * Read-only by construction on each driver, not only by the query's wording: SQLite opens the file
 * read-only (and `query_only`); PostgreSQL runs each query inside `BEGIN READ ONLY` … `ROLLBACK`
 * with a `statement_timeout`; MySQL/MariaDB inside `START TRANSACTION READ ONLY` … `ROLLBACK` with
 * a client-side timeout. The database account should still be one that can only SELECT.
 */

interface SqlDirectoryOptions {
  readonly query: string;
  readonly timeoutMs: number;
  /** Connections kept open at most (postgres/mysql). */
  readonly pool: number;
  /** The column holding the account's roles/groups (a comma-separated string or a JSON array). */
  readonly rolesColumn?: string | undefined;
}

type Row = Record<string, unknown>;

/** Column values by lower-cased name: PostgreSQL folds unquoted aliases, MySQL keeps their case. */
function column(row: Row, name: string): unknown {
  for (const [key, value] of Object.entries(row)) if (key.toLowerCase() === name) return value;
  return null;
}

function fromRows(rows: readonly Row[], driver: string, rolesColumn?: string): DirectoryResult {
  if (rows.length === 0) return failed('not_found', `the ${driver} directory query returned no row for this account`);
  if (rows.length > 1) return failed('ambiguous', `the ${driver} directory query returned ${rows.length} rows for one account; refusing to guess which holds its email/phone`);
  const row = rows[0] as Row;
  if (rolesColumn === undefined) return found(entryOf(column(row, 'email'), column(row, 'phone')));
  return found(entryOf(column(row, 'email'), column(row, 'phone'), parseRolesCell(column(row, rolesColumn.toLowerCase()))));
}

/** A roles cell: a JSON array (PostgreSQL arrays arrive as lists already) or a separated string. */
function parseRolesCell(value: unknown): unknown {
  if (typeof value === 'string' && value.trim().startsWith('[')) {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return value;
    }
  }
  return value;
}

/** A driver error as a message without secrets (connection URLs never appear in these). */
function describe(error: unknown): string {
  const e = error as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? `${e.code}: ` : '';
  const message = typeof e.message === 'string' ? e.message.replace(/\w+:\/\/[^\s]*/g, '<url>') : String(error);
  return `${code}${message}`.slice(0, 300);
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'PROTOCOL_CONNECTION_LOST', 'PROTOCOL_SEQUENCE_TIMEOUT', '57P01', '57P03', '08001', '08006', 'ER_CON_COUNT_ERROR']);

function classify(error: unknown, driver: string): DirectoryResult {
  const code = (error as { code?: unknown }).code;
  const message = (error as { message?: unknown }).message;
  const connection =
    (typeof code === 'string' && CONNECTION_CODES.has(code)) ||
    (typeof message === 'string' && /timeout|terminated|connect/i.test(message) && typeof code !== 'string');
  return failed(connection ? 'unavailable' : 'source_error', `${driver} directory: ${describe(error)}`);
}

export class SqliteDirectory implements Directory {
  readonly kind = 'sql:sqlite';
  readonly providesRoles: boolean;
  private readonly rolesColumn: string | undefined;
  private readonly db: Database.Database;
  private readonly statement: Database.Statement;

  /** Throws (at start) when the file is missing or the query is not a read-only statement. */
  constructor(file: string, options: SqlDirectoryOptions) {
    this.providesRoles = options.rolesColumn !== undefined;
    this.rolesColumn = options.rolesColumn;
    try {
      this.db = new Database(file, { readonly: true, fileMustExist: true, timeout: options.timeoutMs });
    } catch (error) {
      throw new Error(`${file}: cannot open the database read-only (${describe(error)}); the file must exist, it is never created`);
    }
    this.db.pragma('query_only = ON');
    try {
      this.statement = this.db.prepare(options.query);
    } catch (error) {
      this.db.close();
      throw new Error(`directory.query does not prepare on ${file}: ${describe(error)}`);
    }
    if (!this.statement.reader || !this.statement.readonly) {
      this.db.close();
      throw new Error('directory.query must be a single read-only SELECT that returns rows');
    }
  }

  async lookup(identifier: string, _context?: LookupContext): Promise<DirectoryResult> {
    try {
      return fromRows(this.statement.all({ identifier }) as Row[], 'sqlite', this.rolesColumn);
    } catch (error) {
      const busy = (error as { code?: unknown }).code === 'SQLITE_BUSY';
      return failed(busy ? 'unavailable' : 'source_error', `sqlite directory: ${describe(error)}`);
    }
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

// The drivers load when a directory of their kind is configured (most deployments use neither).
const pgDriver = lazyModule<typeof pg>('pg');
const mysqlDriver = lazyModule<typeof mysql>('mysql2/promise');

export class PostgresDirectory implements Directory {
  readonly kind = 'sql:postgres';
  get providesRoles(): boolean {
    return this.options.rolesColumn !== undefined;
  }
  private readonly pool: pg.Pool;
  private readonly text: string;

  constructor(url: string, private readonly options: SqlDirectoryOptions) {
    this.text = bindIdentifier(options.query, 'pg').text;
    this.pool = new (pgDriver().Pool)({
      connectionString: url,
      max: options.pool,
      connectionTimeoutMillis: options.timeoutMs,
      query_timeout: options.timeoutMs,
      idleTimeoutMillis: 30_000,
      application_name: 'smartpush-guard-directory',
    });
    // An idle connection the server drops must not crash the process; the next lookup reconnects.
    this.pool.on('error', () => {});
  }

  async lookup(identifier: string, _context?: LookupContext): Promise<DirectoryResult> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      return failed('unavailable', `postgres directory: ${describe(error)}`);
    }
    let broken = false;
    try {
      await client.query('BEGIN TRANSACTION READ ONLY');
      await client.query(`SET LOCAL statement_timeout = ${Math.max(1, Math.floor(this.options.timeoutMs))}`);
      const result = await client.query(this.text, [identifier]);
      return fromRows(result.rows as Row[], 'postgres', this.options.rolesColumn);
    } catch (error) {
      broken = (error as { code?: unknown }).code === undefined;
      return classify(error, 'postgres');
    } finally {
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

export class MysqlDirectory implements Directory {
  readonly kind = 'sql:mysql';
  get providesRoles(): boolean {
    return this.options.rolesColumn !== undefined;
  }
  private readonly pool: mysql.Pool;
  private readonly bound: { text: string; occurrences: number };

  constructor(url: string, private readonly options: SqlDirectoryOptions) {
    this.bound = bindIdentifier(options.query, 'mysql');
    this.pool = mysqlDriver().createPool({
      uri: url,
      connectionLimit: options.pool,
      maxIdle: options.pool,
      connectTimeout: options.timeoutMs,
      // Rows as plain objects; dates and big numbers are not needed and stay strings.
      dateStrings: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
      multipleStatements: false,
    });
  }

  async lookup(identifier: string, _context?: LookupContext): Promise<DirectoryResult> {
    let connection: mysql.PoolConnection;
    try {
      connection = await this.pool.getConnection();
    } catch (error) {
      return failed('unavailable', `mysql directory: ${describe(error)}`);
    }
    let broken = false;
    try {
      await connection.query({ sql: 'START TRANSACTION READ ONLY', timeout: this.options.timeoutMs });
      const [rows] = await connection.query({ sql: this.bound.text, timeout: this.options.timeoutMs }, Array.from({ length: this.bound.occurrences }, () => identifier));
      if (!Array.isArray(rows)) return failed('source_error', 'mysql directory: the query did not return rows');
      return fromRows(rows as Row[], 'mysql', this.options.rolesColumn);
    } catch (error) {
      broken = true;
      return classify(error, 'mysql');
    } finally {
      if (!broken) {
        await connection.query('ROLLBACK').catch(() => {
          broken = true;
        });
      }
      if (broken) connection.destroy();
      else connection.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
