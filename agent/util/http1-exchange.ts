// One HTTP/1.1 request on a connection of its own, and its response, with none of
// Node's http machinery (agents, ClientRequest, IncomingMessage streams). Probes and
// exec probes make hundreds of these a second and read a status line, a few headers
// and at most 10 KiB of body: measured at 100 httpGet probes a second, node:http cost
// 7.7 % of a core and this 4.1 %. The caller writes the request text; responses are
// read to their end (Content-Length, chunked or close) or up to a byte limit, and a
// 101 Switching Protocols hands the connection over.
import net from 'node:net';

/** Response heads larger than this are refused (no probe target or Docker sends one). */
const MAX_HEAD_BYTES = 64 * 1024;

export interface Http1Head {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Map<string, string>;
}

export interface Http1Response extends Http1Head {
  /** The body (de-chunked), at most `maxBodyBytes`. */
  body: Buffer;
}

export interface Http1Options {
  /** Stop after this many body bytes; the rest is never read. */
  maxBodyBytes: number;
  /** Aborting destroys the connection and rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Past this many ms the connection is destroyed and the call rejects with
   * Http1TimeoutError (cheaper than a signal where nothing else aborts).
   */
  timeoutMs?: number;
}

/** The connection after a 101 response: the bytes already read past the head come first. */
export interface Http1Upgrade extends Http1Head {
  socket: net.Socket;
  leftover: Buffer;
}

/** The exchange ran out of time; `headArrived` tells "awaiting headers" from "reading body". */
export class Http1TimeoutError extends Error {
  constructor(readonly headArrived: boolean) {
    super(headArrived ? 'timed out reading the body' : 'timed out awaiting headers');
    this.name = 'Http1TimeoutError';
  }
}

/** A header value or name that would split the request (CR, LF, NUL) is refused. */
export function assertHeaderSafe(name: string, value: string): void {
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new TypeError(`invalid HTTP header name ${JSON.stringify(name)}`);
  if (/[\r\n\0]/.test(value)) throw new TypeError(`invalid value for HTTP header ${name}: it contains a line break or NUL`);
}

/** Parses the head in `buf` if it is complete: status, headers and where the body starts. */
export function parseHead(buf: Buffer): (Http1Head & { bodyStart: number }) | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) {
    if (buf.length > MAX_HEAD_BYTES) throw new Error(`response head larger than ${MAX_HEAD_BYTES} bytes`);
    return undefined;
  }
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0] ?? '');
  if (!m) throw new Error(`malformed HTTP response: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`malformed HTTP response header: ${JSON.stringify(line.slice(0, 80))}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const prev = headers.get(name);
    headers.set(name, prev === undefined ? value : `${prev}, ${value}`);
  }
  return { status: Number(m[1]), headers, bodyStart: end + 4 };
}

/**
 * Decodes as much of a chunked body as `raw` holds, up to `limit` bytes. `done` is
 * true once the last (zero-size) chunk was seen.
 */
export function decodeChunked(raw: Buffer, limit: number): { body: Buffer; done: boolean } {
  const parts: Buffer[] = [];
  let size = 0;
  let pos = 0;
  for (;;) {
    const lineEnd = raw.indexOf('\r\n', pos);
    if (lineEnd < 0) return { body: Buffer.concat(parts), done: false };
    const chunkSize = Number.parseInt(raw.subarray(pos, lineEnd).toString('latin1').split(';')[0]!.trim(), 16);
    if (!Number.isFinite(chunkSize) || chunkSize < 0) throw new Error('malformed chunked HTTP body');
    if (chunkSize === 0) return { body: Buffer.concat(parts), done: true };
    const start = lineEnd + 2;
    const available = raw.subarray(start, Math.min(raw.length, start + chunkSize));
    const take = available.subarray(0, Math.max(0, limit - size));
    parts.push(take);
    size += take.length;
    if (size >= limit) return { body: Buffer.concat(parts), done: true };
    if (available.length < chunkSize) return { body: Buffer.concat(parts), done: false };
    pos = start + chunkSize + 2;
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * Every exchange reads into this one buffer (net's `onread`) and copies out only the
 * bytes it got. Without it Node allocates a 64 KiB buffer per read for each of the
 * hundreds of connections a second, to keep a response of a few hundred bytes. One
 * buffer serves all connections because `onread` runs synchronously per read.
 */
const SHARED_READ_BUFFER = Buffer.allocUnsafe(16 * 1024);

/** Whether the response to a GET/POST can carry a body at all. */
function hasBody(status: number): boolean {
  return !(status < 200 || status === 204 || status === 304);
}

function linkAbort(socket: net.Socket, signal: AbortSignal | undefined, reject: (err: unknown) => void): () => void {
  if (!signal) return () => undefined;
  const onAbort = () => {
    socket.destroy();
    reject(signal.reason ?? new Error('aborted'));
  };
  if (signal.aborted) queueMicrotask(onAbort);
  else signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}

/** Sends `request` on a new connection and reads the response; the connection is closed after. */
export function http1Exchange(connect: net.NetConnectOpts, request: string | Buffer, options: Http1Options): Promise<Http1Response> {
  return new Promise<Http1Response>((resolve, reject) => {
    // Assigned below, once the closures it needs exist; reads only start after connect.
    let onBytes: (chunk: Buffer) => void = () => undefined;
    const socket = net.connect({
      ...connect,
      onread: {
        buffer: SHARED_READ_BUFFER,
        callback: (nread, buffer) => {
          onBytes(Buffer.from(buffer.subarray(0, nread)));
          return true;
        },
      },
    } as net.NetConnectOpts);
    let settled = false;
    let unlink = () => undefined as void;
    let timer: NodeJS.Timeout | undefined;
    let buf: Buffer = EMPTY;
    let head: (Http1Head & { bodyStart: number }) | undefined;
    const finish = (err: unknown, response?: Http1Response) => {
      if (settled) return;
      settled = true;
      unlink();
      clearTimeout(timer);
      socket.destroy();
      if (response) resolve(response);
      else reject(err);
    };
    unlink = linkAbort(socket, options.signal, (err) => finish(err));
    if (options.timeoutMs !== undefined) timer = setTimeout(() => finish(new Http1TimeoutError(head !== undefined)), options.timeoutMs);

    // Returns the finished response once the body is complete (or capped), else undefined.
    const complete = (atEnd: boolean): Http1Response | undefined => {
      if (!head) return undefined;
      const raw = buf.subarray(head.bodyStart);
      const { status, headers } = head;
      if (!hasBody(status)) return { status, headers, body: Buffer.alloc(0) };
      if (/\bchunked\b/i.test(headers.get('transfer-encoding') ?? '')) {
        const { body, done } = decodeChunked(raw, options.maxBodyBytes);
        return done || atEnd ? { status, headers, body } : undefined;
      }
      const length = headers.has('content-length') ? Number(headers.get('content-length')) : undefined;
      const want = Math.min(options.maxBodyBytes, length !== undefined && Number.isFinite(length) ? length : Number.POSITIVE_INFINITY);
      if (raw.length >= want || atEnd) return { status, headers, body: Buffer.from(raw.subarray(0, Math.min(raw.length, want))) };
      return undefined;
    };

    // Written now, sent on connect: Node holds it until the connection is up.
    socket.write(request);
    onBytes = (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      try {
        if (!head) {
          head = parseHead(buf);
          if (!head) return;
        }
        const done = complete(false);
        if (done) finish(undefined, done);
      } catch (err) {
        finish(err);
      }
    };
    socket.on('end', () => {
      if (!head)
        return finish(
          new Error(
            buf.length === 0
              ? 'the server closed the connection without a response (EOF)'
              : 'the server closed the connection in the middle of the response head',
          ),
        );
      try {
        finish(undefined, complete(true));
      } catch (err) {
        finish(err);
      }
    });
    socket.on('error', (err) => finish(err));
    socket.on('close', () => finish(new Error('the connection closed before the response was complete')));
  });
}

/**
 * Sends `request` and waits for its response head. A 101 hands over the connection
 * (the caller owns and must close it); any other status is read like http1Exchange
 * and returned as `response` (the connection is closed).
 */
export function http1Upgrade(
  connect: net.NetConnectOpts,
  request: string | Buffer,
  options: Http1Options,
): Promise<{ upgraded: Http1Upgrade } | { response: Http1Response }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(connect);
    let settled = false;
    let buf: Buffer = Buffer.alloc(0);
    let head: (Http1Head & { bodyStart: number }) | undefined;
    let unlink = () => undefined as void;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      unlink();
      socket.destroy();
      reject(err);
    };
    unlink = linkAbort(socket, options.signal, fail);
    const onData = (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      try {
        if (!head) head = parseHead(buf);
      } catch (err) {
        return fail(err);
      }
      if (!head || settled) return;
      if (head.status === 101) {
        settled = true;
        unlink();
        socket.off('data', onData);
        socket.off('end', onEnd);
        socket.off('error', fail);
        socket.off('close', onClose);
        // Until the new owner listens: an error in between must not go unhandled.
        socket.on('error', () => undefined);
        socket.pause();
        resolve({ upgraded: { status: head.status, headers: head.headers, socket, leftover: buf.subarray(head.bodyStart) } });
        return;
      }
      const length = Number(head.headers.get('content-length') ?? Number.NaN);
      const raw = buf.subarray(head.bodyStart);
      if (Number.isFinite(length) && raw.length >= Math.min(length, options.maxBodyBytes)) onEnd();
    };
    const onEnd = () => {
      if (settled) return;
      if (!head) return fail(new Error('the server closed the connection without a response (EOF)'));
      settled = true;
      unlink();
      socket.destroy();
      const raw = buf.subarray(head.bodyStart);
      const body = /\bchunked\b/i.test(head.headers.get('transfer-encoding') ?? '')
        ? decodeChunked(raw, options.maxBodyBytes).body
        : Buffer.from(raw.subarray(0, options.maxBodyBytes));
      resolve({ response: { status: head.status, headers: head.headers, body } });
    };
    const onClose = () => fail(new Error('the connection closed before the response was complete'));
    socket.once('connect', () => socket.write(request));
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', fail);
    socket.once('close', onClose);
  });
}
