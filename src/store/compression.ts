import { deflateRawSync, inflateRawSync, constants } from 'node:zlib';

export type Encoding = 'raw' | 'deflate';

/** Below this size compression saves too little to be worth the CPU. */
const MIN_COMPRESS_BYTES = 256;

/** Plans are mostly JSON and markdown: deflate shrinks them 3–6×; store raw when it does not pay. */
export function encodeContent(bytes: Buffer): { encoding: Encoding; data: Buffer } {
  if (bytes.length < MIN_COMPRESS_BYTES) return { encoding: 'raw', data: bytes };
  const packed = deflateRawSync(bytes, { level: constants.Z_DEFAULT_COMPRESSION });
  return packed.length < bytes.length * 0.9 ? { encoding: 'deflate', data: packed } : { encoding: 'raw', data: bytes };
}

export function decodeContent(encoding: string, data: Buffer): Buffer {
  switch (encoding) {
    case 'raw':
      return data;
    case 'deflate':
      return inflateRawSync(data);
    default:
      throw new Error(`unknown content encoding '${encoding}'`);
  }
}
