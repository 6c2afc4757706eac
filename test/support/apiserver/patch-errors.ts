// Why a patch could not be applied; the handler turns these into the real server's codes.

/** The patch document itself is malformed (400 BadRequest). */
export class MalformedPatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedPatchError';
  }
}

/** A well-formed patch that does not apply to this object, e.g. a failed `test` op (422 Invalid). */
export class PatchApplyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PatchApplyError';
  }
}
