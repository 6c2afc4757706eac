// A native exec request's container part that no real container matches: enough for
// tests of the wire protocol, where the helper must refuse before it uses any of it.
import type { NativeExecTemplate } from '../../agent/runtime/docker/exec/native-exec-protocol.js';

export const PLACEHOLDER_EXEC_TEMPLATE: NativeExecTemplate = {
  pid: 1,
  startTime: 1,
  uid: 0,
  gid: 0,
  groups: [],
  capBounding: 0n,
  noNewPrivs: false,
  cgroupProcs: [],
  workingDir: '/',
  env: [],
};
