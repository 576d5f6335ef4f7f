import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { AuditEvent } from '../audit.ts';
import { queuedSink, type SendResult, type StreamQueueOptions, type StreamSink } from './delivery-queue.ts';
import { toStreamEvent } from './event-schema.ts';
import { FACILITIES, type Facility } from '../../config/syslog-facilities.ts';

/**
 * Security events as syslog messages (RFC 5424) for SIEMs: UDP (RFC 5426), TCP with octet-counting
 * framing (RFC 6587) or TLS (RFC 5425). One message per event:
 *
 *   <PRI>1 2026-12-02T10:00:00.000Z host smartpush-guard 4242 login_failure [spg@32473 outcome="failure" user="…" client="…" reason="…"] BOM{json}
 *
 * PRI is the facility (default authpriv: the events name accounts) and a severity from the outcome
 * (failure → warning, success → notice, info → informational). The message is the same JSON event
 * the webhook sends (schema smartpush-guard.event/v1). Like the webhook, it is queued: a collector
 * that is down or slow never holds an answer back.
 */

const SEVERITY = { failure: 4, success: 5, info: 6 } as const;

/** The private enterprise number 32473 is the one RFC 5612 sets aside for documentation and examples. */
const SD_ID = 'spg@32473';

/** RFC 5424 PRINTUSASCII fields: no spaces, at most `max` characters, '-' when empty. */
function header(value: string | undefined, max: number): string {
  const clean = (value ?? '').replace(/[^\x21-\x7e]/g, '').slice(0, max);
  return clean === '' ? '-' : clean;
}

/** PARAM-VALUE escaping (RFC 5424 §6.3.3): '"', '\' and ']' get a backslash. */
function param(value: string): string {
  return value.replace(/[\\"\]]/g, (c) => `\\${c}`);
}

interface SyslogFormatOptions {
  readonly facility: Facility;
  readonly appName: string;
  readonly host: string;
  readonly procId: string;
}

export function formatSyslog(event: AuditEvent, id: string, options: SyslogFormatOptions): string {
  const pri = FACILITIES[options.facility] * 8 + SEVERITY[event.outcome];
  const params: Array<[string, string | undefined]> = [
    ['outcome', event.outcome],
    ['user', event.user],
    ['client', event.client],
    ['reason', event.reason],
    ['actor', event.actor],
    ['requestId', event.requestId],
    ['id', id],
  ];
  const sd = `[${SD_ID}${params
    .filter((p): p is [string, string] => p[1] !== undefined && p[1] !== '')
    .map(([name, value]) => ` ${name}="${param(value)}"`)
    .join('')}]`;
  const message = JSON.stringify(toStreamEvent(event, id, options.host));
  return `<${pri}>1 ${event.time} ${header(options.host, 255)} ${header(options.appName, 48)} ${header(options.procId, 128)} ${header(event.event, 32)} ${sd} \uFEFF${message}`;
}

interface SyslogSinkOptions extends Omit<SyslogFormatOptions, 'procId'>, StreamQueueOptions {
  readonly transport: 'udp' | 'tcp' | 'tls';
  readonly address: string;
  readonly port: number;
  /** PEM of the collector's CA for `tls` (default: Node's trusted roots). */
  readonly ca?: string | undefined;
  readonly timeoutMs: number;
}

interface Transport {
  send(messages: readonly string[]): Promise<void>;
  close(): void;
}

function udpTransport(options: SyslogSinkOptions): Transport {
  let socket: UdpSocket | null = null;
  const open = (): UdpSocket => {
    if (socket) return socket;
    const created = createSocket(isIP(options.address) === 6 ? 'udp6' : 'udp4');
    created.unref();
    created.on('error', () => {
      created.close();
      if (socket === created) socket = null;
    });
    socket = created;
    return created;
  };
  return {
    async send(messages) {
      const s = open();
      for (const message of messages) {
        await new Promise<void>((resolve, reject) => s.send(Buffer.from(message, 'utf8'), options.port, options.address, (error) => (error ? reject(error) : resolve())));
      }
    },
    close() {
      socket?.close();
      socket = null;
    },
  };
}

/** TCP or TLS with RFC 6587 octet counting: `<length> <message>`, one connection kept open. */
function streamTransport(options: SyslogSinkOptions): Transport {
  let socket: Socket | null = null;
  const open = (): Promise<Socket> => {
    if (socket && !socket.destroyed) return Promise.resolve(socket);
    return new Promise((resolve, reject) => {
      const common = { host: options.address, port: options.port, timeout: options.timeoutMs };
      const created =
        options.transport === 'tls'
          ? tlsConnect({ ...common, ...(isIP(options.address) === 0 ? { servername: options.address } : {}), ...(options.ca ? { ca: options.ca } : {}) })
          : tcpConnect(common);
      created.unref();
      const fail = (error: Error): void => {
        created.destroy();
        if (socket === created) socket = null;
        reject(error);
      };
      created.once('error', fail);
      created.once('timeout', () => fail(new Error('the syslog collector did not answer in time')));
      created.once(options.transport === 'tls' ? 'secureConnect' : 'connect', () => {
        created.off('error', fail);
        created.setTimeout(0);
        // Later errors (the collector went away) drop the connection; the next send reconnects.
        created.on('error', () => created.destroy());
        created.on('close', () => {
          if (socket === created) socket = null;
        });
        socket = created;
        resolve(created);
      });
    });
  };
  return {
    async send(messages) {
      const s = await open();
      const frames = Buffer.concat(messages.map((m) => {
        const bytes = Buffer.from(m, 'utf8');
        return Buffer.concat([Buffer.from(`${bytes.length} `, 'ascii'), bytes]);
      }));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          s.destroy();
          reject(new Error('the syslog collector stopped reading'));
        }, options.timeoutMs);
        timer.unref();
        s.write(frames, (error) => {
          clearTimeout(timer);
          if (error) reject(error);
          else resolve();
        });
      });
    },
    close() {
      socket?.end();
      socket = null;
    },
  };
}

export function syslogSink(options: SyslogSinkOptions): StreamSink {
  const transport = options.transport === 'udp' ? udpTransport(options) : streamTransport(options);
  const format: SyslogFormatOptions = { facility: options.facility, appName: options.appName, host: options.host, procId: String(process.pid) };
  const ids = new WeakMap<AuditEvent, string>();
  const send = async (batch: readonly AuditEvent[]): Promise<SendResult> => {
    try {
      await transport.send(batch.map((event) => formatSyslog(event, ids.get(event) ?? options.newId(), format)));
      return { ok: true };
    } catch (error) {
      return { ok: false, transient: true, detail: (error as Error).message };
    }
  };
  // A datagram carries one message; a stream takes a few at a time.
  return queuedSink('syslog', options, options.transport === 'udp' ? 1 : 50, ids, send, async (queue) => {
    await queue.close();
    transport.close();
  });
}
