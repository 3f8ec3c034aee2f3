// hybridsplit wire format v1 (src/hybridsplit/serving/wire.py), little-endian:
//   0 magic "HSF1" | 4 version 1 | 5 dtype code (1 int8) | 6 ndim | 7 flags 0 | 8 bundle id (32 bytes,
//   sha256 of manifest.json) | 40 scale float32 | 44 zero_point int32 | 48 dims uint32 x ndim | payload
export const CONTENT_TYPE = 'application/x-hybridsplit-features';
export const HEADER_BYTES = 48;

export function encodeInt8(features, shape, bundleId, scale, zeroPoint) {
  if (!(features instanceof Int8Array)) throw new Error('features must be an Int8Array');
  if (bundleId.length !== 32) throw new Error('bundle id must be the 32-byte sha256 of manifest.json');
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== features.length) throw new Error(`features (${features.length}) do not fill shape [${shape}]`);
  const buf = new ArrayBuffer(HEADER_BYTES + 4 * shape.length + features.length);
  const v = new DataView(buf);
  const u8 = new Uint8Array(buf);
  u8.set([0x48, 0x53, 0x46, 0x31], 0);  // "HSF1"
  v.setUint8(4, 1);
  v.setUint8(5, 1);
  v.setUint8(6, shape.length);
  v.setUint8(7, 0);
  u8.set(bundleId, 8);
  v.setFloat32(40, scale, true);
  v.setInt32(44, zeroPoint, true);
  shape.forEach((d, i) => v.setUint32(HEADER_BYTES + 4 * i, d, true));
  u8.set(new Uint8Array(features.buffer, features.byteOffset, features.length), HEADER_BYTES + 4 * shape.length);
  return u8;
}
