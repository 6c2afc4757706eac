// Docker's streaming endpoints (pull and import progress, events) send JSON objects
// one per line; a chunk may hold several or part of one.
export async function* jsonMessages(stream: AsyncIterable<Buffer | string>): AsyncGenerator<unknown> {
  let pending = '';
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    pending += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let newline = pending.indexOf('\n');
    while (newline !== -1) {
      const line = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      if (line !== '') yield parseLine(line);
      newline = pending.indexOf('\n');
    }
  }
  pending += decoder.decode();
  if (pending.trim() !== '') yield parseLine(pending.trim());
}

function parseLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    // Not JSON (a proxy's error page, say): hand it on as text for the caller to report.
    return { error: line };
  }
}

/** The error a progress message reports, if any: `{"error": "...", "errorDetail": {...}}`. */
export function progressError(message: unknown): string | undefined {
  if (typeof message !== 'object' || message === null) return undefined;
  const m = message as { error?: unknown; errorDetail?: { message?: unknown } };
  if (typeof m.errorDetail?.message === 'string' && m.errorDetail.message !== '') return m.errorDetail.message;
  if (typeof m.error === 'string' && m.error !== '') return m.error;
  return undefined;
}
