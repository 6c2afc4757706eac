// The two messages of grpc.health.v1.Health/Check, encoded by hand (one string
// field out, one enum field back) so probes need no protobuf library, and gRPC's
// length-prefixed framing around them.

/** grpc.health.v1.HealthCheckResponse.ServingStatus. */
export const SERVING_STATUS_NAMES: Readonly<Record<number, string>> = {
  0: 'UNKNOWN',
  1: 'SERVING',
  2: 'NOT_SERVING',
  3: 'SERVICE_UNKNOWN',
};
export const SERVING = 1;

/** gRPC status code names, for messages. */
export const GRPC_CODE_NAMES: Readonly<Record<number, string>> = {
  0: 'OK',
  1: 'Canceled',
  2: 'Unknown',
  3: 'InvalidArgument',
  4: 'DeadlineExceeded',
  5: 'NotFound',
  6: 'AlreadyExists',
  7: 'PermissionDenied',
  8: 'ResourceExhausted',
  9: 'FailedPrecondition',
  10: 'Aborted',
  11: 'OutOfRange',
  12: 'Unimplemented',
  13: 'Internal',
  14: 'Unavailable',
  15: 'DataLoss',
  16: 'Unauthenticated',
};

export class GrpcDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GrpcDecodeError';
  }
}

export function encodeVarint(value: number): Buffer {
  const bytes: number[] = [];
  let v = value;
  while (v > 0x7f) {
    bytes.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

/** The varint at `offset` and the offset after it. */
export function decodeVarint(buf: Buffer, offset: number): { value: number; next: number } {
  let value = 0;
  let scale = 1;
  for (let i = offset; i < buf.length && i < offset + 10; i++) {
    const byte = buf[i]!;
    value += (byte & 0x7f) * scale;
    scale *= 128;
    if ((byte & 0x80) === 0) return { value, next: i + 1 };
  }
  throw new GrpcDecodeError('truncated or oversized varint');
}

/** HealthCheckRequest{ service = 1 }: empty when the service is "" (proto3 omits defaults). */
export function encodeHealthCheckRequest(service: string): Buffer {
  if (!service) return Buffer.alloc(0);
  const bytes = Buffer.from(service, 'utf8');
  return Buffer.concat([Buffer.from([0x0a]), encodeVarint(bytes.length), bytes]);
}

/** HealthCheckResponse.status; a message without the field is UNKNOWN (0), as proto3 reads it. */
export function decodeHealthCheckResponse(message: Buffer): number {
  let status = 0;
  let offset = 0;
  while (offset < message.length) {
    const key = decodeVarint(message, offset);
    offset = key.next;
    const field = Math.floor(key.value / 8);
    const wireType = key.value & 7;
    switch (wireType) {
      case 0: {
        const v = decodeVarint(message, offset);
        offset = v.next;
        if (field === 1) status = v.value;
        break;
      }
      case 1:
        offset += 8;
        break;
      case 2: {
        const len = decodeVarint(message, offset);
        offset = len.next + len.value;
        break;
      }
      case 5:
        offset += 4;
        break;
      default:
        throw new GrpcDecodeError(`unsupported protobuf wire type ${wireType} in HealthCheckResponse`);
    }
    if (offset > message.length) throw new GrpcDecodeError('truncated HealthCheckResponse');
  }
  return status;
}

/** One gRPC message frame: uncompressed flag, 4-byte big-endian length, message. */
export function frameMessage(message: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt8(0, 0);
  header.writeUInt32BE(message.length, 1);
  return Buffer.concat([header, message]);
}

/** The messages in a gRPC response body; compressed frames are refused (we never offer compression). */
export function unframeMessages(body: Buffer): Buffer[] {
  const messages: Buffer[] = [];
  let offset = 0;
  while (offset < body.length) {
    if (offset + 5 > body.length) throw new GrpcDecodeError('truncated gRPC frame header');
    if (body[offset] !== 0) throw new GrpcDecodeError('compressed gRPC message, but no compression was offered');
    const length = body.readUInt32BE(offset + 1);
    const end = offset + 5 + length;
    if (end > body.length) throw new GrpcDecodeError('truncated gRPC message');
    messages.push(body.subarray(offset + 5, end));
    offset = end;
  }
  return messages;
}

/** grpc-message is percent-encoded on the wire. */
export function decodeGrpcMessage(value: string | undefined): string {
  if (!value) return '';
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
