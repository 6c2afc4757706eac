// Typed runtime failures. Each carries a stable `code` the pod worker branches on
// and a `reason` that ends up in the pod status, so operators see why.

export type RuntimeErrorCode =
  | 'RuntimeUnavailable'
  | 'NotFound'
  | 'ImagePullFailed'
  | 'InvalidImageName'
  | 'ImageNotPresent'
  | 'CreateContainerFailed'
  | 'StartContainerFailed'
  | 'RuntimeError';

export class RuntimeError extends Error {
  readonly code: RuntimeErrorCode;
  constructor(code: RuntimeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = `${code}Error`;
    this.code = code;
  }
}

export class RuntimeUnavailableError extends RuntimeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('RuntimeUnavailable', message, options);
  }
}
export class NotFoundError extends RuntimeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NotFound', message, options);
  }
}
export class ImagePullError extends RuntimeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ImagePullFailed', message, options);
  }
}
export class InvalidImageNameError extends RuntimeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('InvalidImageName', message, options);
  }
}
export class CreateContainerError extends RuntimeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CreateContainerFailed', message, options);
  }
}
export class StartContainerError extends RuntimeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('StartContainerFailed', message, options);
  }
}

export function isRuntimeError(err: unknown, code?: RuntimeErrorCode): err is RuntimeError {
  return err instanceof RuntimeError && (code === undefined || err.code === code);
}
