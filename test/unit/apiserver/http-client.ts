// A tiny loopback client for the test apiserver's unit tests: JSON requests and a
// watch stream reader that collects newline-delimited events.
import type { TestApiServer } from '../../support/apiserver/server.js';

export interface Reply<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export async function call<T = any>(
  server: TestApiServer,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
  token?: string,
): Promise<Reply<T>> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['Content-Type'] = contentType;
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(server.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* plain text answers (healthz) */
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}

export interface WatchEventJson {
  type: string;
  object: any;
}

export class WatchStream {
  readonly events: WatchEventJson[] = [];
  /** 'end' when the server closed the stream normally, 'error' when it was cut. */
  readonly finished: Promise<'end' | 'error'>;
  private wake: (() => void) | undefined;
  private done = false;

  readonly headers: Headers;

  private constructor(
    private readonly response: Response,
    private readonly abort: AbortController,
  ) {
    this.headers = response.headers;
    this.finished = this.pump().then((r) => {
      this.done = true;
      this.wake?.();
      return r;
    });
  }

  static async open(server: TestApiServer, path: string): Promise<WatchStream> {
    const abort = new AbortController();
    const res = await fetch(server.url + path, { signal: abort.signal });
    if (res.status !== 200) throw new Error(`watch ${path}: HTTP ${res.status} ${await res.text()}`);
    return new WatchStream(res, abort);
  }

  private async pump(): Promise<'end' | 'error'> {
    const reader = this.response.body!.getReader();
    const decoder = new TextDecoder();
    let buffered = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return 'end';
        buffered += decoder.decode(value, { stream: true });
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (line.trim()) this.events.push(JSON.parse(line) as WatchEventJson);
        }
        this.wake?.();
      }
    } catch {
      return 'error';
    }
  }

  /** Waits until at least `count` events of the given types arrived (all types when omitted). */
  async waitForEvents(count: number, types?: string[], timeoutMs = 5000): Promise<WatchEventJson[]> {
    const pick = () => this.events.filter((e) => !types || types.includes(e.type));
    const deadline = Date.now() + timeoutMs;
    while (pick().length < count) {
      if (this.done) throw new Error(`watch ended with ${pick().length}/${count} events: ${JSON.stringify(this.events)}`);
      if (Date.now() > deadline) throw new Error(`timed out with ${pick().length}/${count} events: ${JSON.stringify(this.events)}`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 50);
      });
    }
    return pick();
  }

  close(): void {
    this.abort.abort();
  }
}
