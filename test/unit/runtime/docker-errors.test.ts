import { describe, expect, it } from 'vitest';
import { dockerMessage, toRuntimeError } from '../../../agent/runtime/docker/docker-errors.js';
import { ImagePullError, NotFoundError, RuntimeUnavailableError, StartContainerError, isRuntimeError } from '../../../agent/runtime/errors.js';

function httpError(statusCode: number, message: string): Error {
  return Object.assign(new Error(`(HTTP code ${statusCode}) - ${message}`), { statusCode, json: { message } });
}

describe('toRuntimeError', () => {
  it.each(['ENOENT', 'ECONNREFUSED', 'EPIPE', 'ECONNRESET'])('maps %s on the socket to RuntimeUnavailableError', (code) => {
    const err = toRuntimeError(Object.assign(new Error('connect'), { code }), 'start container abc', 'unix:///var/run/docker.sock');
    expect(err).toBeInstanceOf(RuntimeUnavailableError);
    expect(err.message).toContain('start container abc');
    expect(err.message).toContain('unix:///var/run/docker.sock');
  });

  it("maps 404 to NotFoundError with Docker's message", () => {
    const err = toRuntimeError(httpError(404, 'No such container: abc'), 'inspect container abc', 'e');
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err.message).toBe('inspect container abc: No such container: abc');
  });

  it("uses the operation's error class for other refusals", () => {
    const err = toRuntimeError(httpError(500, 'OCI runtime create failed'), 'start container abc', 'e', StartContainerError);
    expect(err).toBeInstanceOf(StartContainerError);
    expect(err.code).toBe('StartContainerFailed');
    expect(err.message).toBe('start container abc: OCI runtime create failed');
    expect(isRuntimeError(toRuntimeError(httpError(500, 'x'), 'y', 'e'), 'RuntimeError')).toBe(true);
  });

  it('passes runtime errors through unchanged', () => {
    const original = new ImagePullError('pull failed');
    expect(toRuntimeError(original, 'x', 'e')).toBe(original);
  });
});

describe('dockerMessage', () => {
  it('reads the JSON message, a text body, or the error message', () => {
    expect(dockerMessage(httpError(409, 'Conflict. The container name is in use '))).toBe('Conflict. The container name is in use');
    expect(dockerMessage(Object.assign(new Error('x'), { json: Buffer.from('page not found\n') }))).toBe('page not found');
    expect(dockerMessage(new Error('plain'))).toBe('plain');
  });
});
