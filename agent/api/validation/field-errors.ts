// Field-level validation errors shaped and rendered like Kubernetes'
// (apimachinery's field.Error), so an operator reading a rejection from nodelet
// sees the same text the apiserver would have printed for the same pod.

export type FieldErrorType =
  | 'Required'
  | 'Invalid'
  | 'Duplicate'
  | 'NotSupported'
  | 'NotFound'
  | 'Forbidden'
  | 'TooLong'
  /** The value has the wrong JSON type (a string where an integer belongs…); rendered as "Invalid value". */
  | 'TypeMismatch';

export interface FieldError {
  /** Path of the field inside the object, e.g. `spec.containers[1].name`. */
  field: string;
  type: FieldErrorType;
  /** What is wrong, without the field and the value (may be empty). */
  message: string;
  value?: unknown;
}

const TYPE_TEXT: Record<FieldErrorType, string> = {
  Required: 'Required value',
  Invalid: 'Invalid value',
  Duplicate: 'Duplicate value',
  NotSupported: 'Unsupported value',
  NotFound: 'Not found',
  Forbidden: 'Forbidden',
  TooLong: 'Too long',
  TypeMismatch: 'Invalid value',
};

// Kubernetes leaves the value out of these: it is either absent or too long to print.
const VALUELESS: ReadonlySet<FieldErrorType> = new Set(['Required', 'Forbidden', 'TooLong']);
const MAX_RENDERED_VALUE = 120;

function renderValue(value: unknown): string {
  if (value === undefined || value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > MAX_RENDERED_VALUE ? `${text.slice(0, MAX_RENDERED_VALUE)}…` : text;
}

/** One error without the field: `Invalid value: "x": must be …`. */
export function renderFieldErrorBody(error: FieldError): string {
  let body = TYPE_TEXT[error.type];
  if (!VALUELESS.has(error.type)) body += `: ${renderValue(error.value)}`;
  if (error.message) body += `: ${error.message}`;
  return body;
}

/** One error: `spec.containers[0].image: Required value`. */
export function renderFieldError(error: FieldError): string {
  return `${error.field}: ${renderFieldErrorBody(error)}`;
}

/**
 * The apiserver's rejection text: `Pod "x" is invalid: <error>`, or the errors in
 * brackets when there are several (identical lines printed once, as Kubernetes does).
 */
export function formatFieldErrors(kind: string, name: string, errors: readonly FieldError[]): string {
  const lines = [...new Set(errors.map(renderFieldError))];
  const detail = lines.length === 1 ? lines[0] : `[${lines.join(', ')}]`;
  return `${kind} ${JSON.stringify(name)} is invalid: ${detail}`;
}

export const fieldError = {
  required: (field: string, message = ''): FieldError => ({ field, type: 'Required', message }),
  invalid: (field: string, value: unknown, message: string): FieldError => ({ field, type: 'Invalid', message, value }),
  duplicate: (field: string, value: unknown): FieldError => ({ field, type: 'Duplicate', message: '', value }),
  notFound: (field: string, value: unknown): FieldError => ({ field, type: 'NotFound', message: '', value }),
  forbidden: (field: string, message: string): FieldError => ({ field, type: 'Forbidden', message }),
  tooLong: (field: string, value: unknown, max: number): FieldError => ({ field, type: 'TooLong', message: `must have at most ${max} bytes`, value }),
  notSupported: (field: string, value: unknown, supported: readonly string[]): FieldError => ({
    field,
    type: 'NotSupported',
    value,
    message: supported.length ? `supported values: ${supported.map((s) => JSON.stringify(s)).join(', ')}` : '',
  }),
  typeMismatch: (field: string, value: unknown, expected: string): FieldError => ({ field, type: 'TypeMismatch', message: `must be ${expected}`, value }),
};
