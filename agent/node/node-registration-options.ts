// The node-registration settings kubelet takes from its configuration (nodeLabels,
// registerWithTaints, systemReserved, kubeReserved). They belong in
// NodeletConfiguration; until they are there, callers pass them here.
import { InvalidQuantityError, parseCPUToMilli, parseMemoryToBytes } from '../api/quantity.js';
import type { Taint, TaintEffect } from './node-types.js';

export interface NodeRegistrationOptions {
  /** Added to the Node's labels; as in kubelet, a configured label overrides a default one of the same key. */
  nodeLabels: Record<string, string>;
  /** Set on the Node when it is created; an existing Node's taints are left alone, as kubelet does. */
  registerWithTaints: Taint[];
  /** Held back from allocatable for the OS (cpu, memory, ephemeral-storage). */
  systemReserved: Record<string, string>;
  /** Held back from allocatable for the agent and the container engine. */
  kubeReserved: Record<string, string>;
}

export function defaultNodeRegistrationOptions(): NodeRegistrationOptions {
  return { nodeLabels: {}, registerWithTaints: [], systemReserved: {}, kubeReserved: {} };
}

/** A registration setting is unusable; the message names the field and the value. */
export class InvalidNodeRegistrationError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'InvalidNodeRegistrationError';
    this.field = field;
  }
}

const TAINT_EFFECTS = new Set<TaintEffect>(['NoSchedule', 'PreferNoSchedule', 'NoExecute']);
// Reservations of these resources are quantities in bytes; cpu is in cores.
const BYTE_RESOURCES = new Set(['memory', 'ephemeral-storage']);

function checkReservation(field: string, reserved: Record<string, string>): void {
  for (const [name, value] of Object.entries(reserved)) {
    try {
      const amount = name === 'cpu' ? parseCPUToMilli(value) : BYTE_RESOURCES.has(name) ? parseMemoryToBytes(value) : Number.NaN;
      if (Number.isNaN(amount)) throw new InvalidNodeRegistrationError(`${field}.${name}`, 'only cpu, memory and ephemeral-storage can be reserved');
      if (amount < 0) throw new InvalidNodeRegistrationError(`${field}.${name}`, `"${value}" must not be negative`);
    } catch (err) {
      if (err instanceof InvalidQuantityError) throw new InvalidNodeRegistrationError(`${field}.${name}`, err.message);
      throw err;
    }
  }
}

/** Throws InvalidNodeRegistrationError naming the first bad field. */
export function validateNodeRegistrationOptions(options: NodeRegistrationOptions): void {
  options.registerWithTaints.forEach((t, i) => {
    if (!t.key) throw new InvalidNodeRegistrationError(`registerWithTaints[${i}].key`, 'must not be empty');
    if (!TAINT_EFFECTS.has(t.effect)) {
      throw new InvalidNodeRegistrationError(`registerWithTaints[${i}].effect`, `"${String(t.effect)}" is not one of NoSchedule, PreferNoSchedule, NoExecute`);
    }
  });
  checkReservation('systemReserved', options.systemReserved);
  checkReservation('kubeReserved', options.kubeReserved);
}
