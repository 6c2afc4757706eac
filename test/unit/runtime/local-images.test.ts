import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { VERSION } from '../../../agent/api/version.js';
import { busyboxImageTag, groupContent, isStaticElf, passwdContent, pauseImageTag } from '../../../agent/runtime/docker/local-images.js';

function elf64(programHeaderTypes: number[]): Buffer {
  const phoff = 64;
  const phentsize = 56;
  const buf = Buffer.alloc(phoff + phentsize * programHeaderTypes.length);
  buf.writeUInt32BE(0x7f454c46, 0);
  buf[4] = 2; // 64-bit
  buf[5] = 1; // little endian
  buf.writeBigUInt64LE(BigInt(phoff), 32);
  buf.writeUInt16LE(phentsize, 54);
  buf.writeUInt16LE(programHeaderTypes.length, 56);
  programHeaderTypes.forEach((type, i) => buf.writeUInt32LE(type, phoff + i * phentsize));
  return buf;
}

describe('isStaticElf', () => {
  it('accepts an executable without a program interpreter and rejects one with', () => {
    expect(isStaticElf(elf64([1, 1, 4]))).toBe(true); // LOAD, LOAD, NOTE
    expect(isStaticElf(elf64([6, 3, 1, 2]))).toBe(false); // PHDR, INTERP, LOAD, DYNAMIC
  });

  it('rejects what is not ELF', () => {
    expect(isStaticElf(Buffer.from('#!/bin/sh\necho hi\n'.padEnd(80, ' ')))).toBe(false);
  });

  it("tells the host's dynamic node binary apart", () => {
    // /proc/self/exe is this Node, dynamically linked on Debian.
    expect(isStaticElf(readFileSync('/proc/self/exe'))).toBe(false);
  });
});

describe('local image names and files', () => {
  it('tags the images with the agent version', () => {
    expect(pauseImageTag()).toBe(`nodelet/pause:${VERSION}`);
    expect(busyboxImageTag()).toBe(`nodelet/busybox:${VERSION}`);
  });

  it('has root and nobody (65534) users and groups', () => {
    expect(passwdContent()).toMatch(/^root:x:0:0:/m);
    expect(passwdContent()).toMatch(/^nobody:x:65534:65534:/m);
    expect(groupContent()).toMatch(/^nobody:x:65534:$/m);
  });
});
