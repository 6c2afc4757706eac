// A container's log as a plain byte stream: stdout and stderr merged in the order
// Docker stored them, frame headers stripped (unless the container has a TTY, whose
// log has none). Always requested as a stream: for a non-follow read dockerode would
// buffer the whole log and may even JSON-parse it.
import type { IncomingMessage } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { LogOptions } from '../runtime.js';
import type { DockerCall } from './docker-call.js';
import { demultiplexedOutput } from './frame-decoder.js';

/** Docker's query for GET /containers/{id}/logs. */
export function logQuery(options: LogOptions, nowMs: number): Record<string, unknown> {
  const query: Record<string, unknown> = {
    stdout: true,
    stderr: true,
    follow: options.follow === true,
    timestamps: options.timestamps === true,
    tail: options.tailLines !== undefined && options.tailLines >= 0 ? Math.floor(options.tailLines) : 'all',
  };
  if (options.sinceSeconds !== undefined && options.sinceSeconds > 0) query['since'] = Math.floor(nowMs / 1000 - options.sinceSeconds);
  return query;
}

export async function openLogStream(docker: Docker, call: DockerCall, containerId: string, tty: boolean, options: LogOptions): Promise<Readable> {
  const response = await call(
    `read logs of container ${containerId.slice(0, 12)}`,
    (abortSignal) =>
      new Promise<IncomingMessage>((resolve, reject) => {
        docker.modem.dial(
          {
            path: `/containers/${encodeURIComponent(containerId)}/logs?`,
            method: 'GET',
            options: logQuery(options, Date.now()),
            isStream: true,
            abortSignal,
            statusCodes: { 200: true, 404: 'no such container', 500: 'server error' },
          },
          (err, result) => (err ? reject(err) : resolve(result as IncomingMessage)),
        );
      }),
    options.signal ? { signal: options.signal } : {},
  );
  return plainOutput(response, tty, options.signal);
}

/**
 * An abort by the reader's signal ends the output cleanly; a reader that stops early
 * (destroys it) releases the connection to Docker.
 */
function plainOutput(response: IncomingMessage, tty: boolean, signal: AbortSignal | undefined): Readable {
  const output = tty ? new PassThrough() : demultiplexedOutput();
  response.pipe(output);
  response.on('error', (err) => {
    if (signal?.aborted) output.end();
    else output.destroy(err);
  });
  output.once('close', () => response.destroy());
  return output;
}
