// The agent's side of the helper's protocol check, against stand-in helpers (shell
// scripts): one that says hello in another version, one that says none.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NativeExecHelper } from '../../../agent/runtime/docker/exec/native-exec-helper.js';
import { NATIVE_EXEC_PROTOCOL_VERSION, NativeExecProtocolError } from '../../../agent/runtime/docker/exec/native-exec-protocol.js';
import { PLACEHOLDER_EXEC_TEMPLATE } from '../../support/native-exec-fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'nodelet-native-helper-'));
const helpers: NativeExecHelper[] = [];
afterAll(() => {
  for (const helper of helpers) helper.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** An executable shell script standing in for the helper; it lives until its stdin closes. */
function fakeHelper(name: string, firstOutput: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\nprintf '${firstOutput}'\nexec cat >/dev/null\n`);
  chmodSync(path, 0o755);
  return path;
}

const template = PLACEHOLDER_EXEC_TEMPLATE;
const command = { argv: ['true'], timeoutMs: 5_000, maxOutputBytes: 1024 };

describe('NativeExecHelper and the protocol version', () => {
  it('refuses a helper whose hello names another version, with a typed error naming both', async () => {
    // The hello: length 5, "NSXH", version 7.
    const helper = new NativeExecHelper(fakeHelper('v7', '\\005\\000\\000\\000NSXH\\007'));
    helpers.push(helper);
    const err = await helper.run(template, command).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NativeExecProtocolError);
    expect((err as Error).message).toBe(`exec helper protocol v7, agent expects v${NATIVE_EXEC_PROTOCOL_VERSION}`);
    // The answer stands: no new helper is started for the next command.
    expect(helper.pid).toBeUndefined();
    await expect(helper.run(template, command)).rejects.toBe(err);
  });

  it('refuses a helper that names no version (a build from before versions) once its hello is overdue', async () => {
    const helper = new NativeExecHelper(fakeHelper('v0', ''), 200);
    helpers.push(helper);
    const err = await helper.run(template, command).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NativeExecProtocolError);
    expect((err as NativeExecProtocolError).helperVersion).toBeUndefined();
    expect((err as Error).message).toMatch(/named no protocol version.*agent expects v1/);
  });
});
