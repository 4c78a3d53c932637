/**
 * A real captcha "siteverify" server on a loopback port, for tests of the captcha validator
 * (reCAPTCHA, hCaptcha and Turnstile share the protocol: a form POST of `secret`, `response`,
 * `remoteip`; a JSON reply). Each response token gets a scripted reply; unknown tokens are
 * refused with `invalid-input-response`, a wrong secret with `invalid-input-secret`, and a
 * token that already passed once with `timeout-or-duplicate`, as the real services do. Every
 * request is recorded, and `stop()` closes the port so the service looks down.
 *
 * @example
 * ```ts
 * const sv = await startSiteverifyServer({ secret: 's3cret' });
 * sv.accept('tok-1', { score: 0.9, action: 'register' });
 * // … config.verifyUrl = sv.url …
 * await sv.stop();
 * ```
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the server answers for one token. */
export interface SiteverifyReply {
  /** JSON body (default `{ success: true }`). Ignored when `raw` is set. */
  body?: Record<string, unknown>;
  /** Raw response text instead of JSON (e.g. an HTML error page). */
  raw?: string;
  /** HTTP status (default 200). */
  status?: number;
  /** Wait this long before answering (to trip the validator's timeout). */
  delayMs?: number;
}

/** One request the server received, decoded. */
export interface SiteverifyRequest {
  method: string;
  contentType: string | undefined;
  form: Record<string, string>;
  secret: string | undefined;
  response: string | undefined;
  remoteip: string | undefined;
}

export interface SiteverifyServer {
  /** The siteverify URL to put in the validator's `verifyUrl`. */
  readonly url: string;
  /** Every request received, oldest first. */
  readonly requests: SiteverifyRequest[];
  /** Scripts the reply for `token`. */
  reply(token: string, reply: SiteverifyReply): void;
  /** Shorthand: `token` passes, with extra fields such as `score`, `action`, `hostname`. */
  accept(token: string, fields?: Record<string, unknown>): void;
  /** Shorthand: `token` is refused with these error codes. */
  reject(token: string, errorCodes?: string[]): void;
  /** Closes the port (new requests are refused) and drops open connections. Idempotent. */
  stop(): Promise<void>;
}

export interface SiteverifyServerOptions {
  /** When set, any other secret is refused with `invalid-input-secret`. */
  secret?: string;
  /** A token that passed once fails afterwards with `timeout-or-duplicate` (default true). */
  singleUse?: boolean;
}

/** Starts the server on 127.0.0.1 with a free port. */
export async function startSiteverifyServer(
  options: SiteverifyServerOptions = {},
): Promise<SiteverifyServer> {
  const replies = new Map<string, SiteverifyReply>();
  const used = new Set<string>();
  const requests: SiteverifyRequest[] = [];
  const singleUse = options.singleUse ?? true;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
    const record: SiteverifyRequest = {
      method: req.method ?? '',
      contentType: req.headers['content-type'],
      form,
      secret: form.secret,
      response: form.response,
      remoteip: form.remoteip,
    };
    requests.push(record);

    let reply: SiteverifyReply;
    if (options.secret !== undefined && record.secret !== options.secret) {
      reply = { body: { success: false, 'error-codes': ['invalid-input-secret'] } };
    } else if (record.response === undefined || record.response === '') {
      reply = { body: { success: false, 'error-codes': ['missing-input-response'] } };
    } else if (used.has(record.response)) {
      reply = { body: { success: false, 'error-codes': ['timeout-or-duplicate'] } };
    } else {
      reply = replies.get(record.response) ?? {
        body: { success: false, 'error-codes': ['invalid-input-response'] },
      };
    }
    if (reply.delayMs !== undefined) {
      await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
    }
    const body = reply.body ?? { success: true };
    const status = reply.status ?? 200;
    if (singleUse && record.response && status === 200 && reply.raw === undefined && body.success) {
      used.add(record.response);
    }
    if (res.destroyed) return;
    if (reply.raw !== undefined) {
      res.writeHead(status, { 'content-type': 'text/html' }).end(reply.raw);
    } else {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let stopped: Promise<void> | undefined;

  return {
    url: `http://127.0.0.1:${port}/siteverify`,
    requests,
    reply(token, reply) {
      replies.set(token, reply);
    },
    accept(token, fields = {}) {
      replies.set(token, { body: { success: true, hostname: 'app.example', ...fields } });
    },
    reject(token, errorCodes = ['invalid-input-response']) {
      replies.set(token, { body: { success: false, 'error-codes': errorCodes } });
    },
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}
