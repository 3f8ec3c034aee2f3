// The device half in the browser: device.tflite (full int8) in LiteRT.js, fed per manifest.json.
//
// LiteRT.js 2.5's Tensor / CompiledModel wrappers handle float32, int32 and uint8 tensors only,
// so an int8 model is driven through the same runtime one level down (getGlobalLiteRt().liteRtWasm:
// loadModel, compileModel, TensorBuffer), exactly as the wrapper does for the types it knows.
import { getGlobalLiteRt, loadLiteRt } from '@litertjs/core';

const INT8 = 9;  // litert::ElementType::kInt8

// float32 arithmetic and round-half-to-even, as numpy does in the Python client
const f32 = Math.fround;
function roundHalfEven(x) {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function preprocess(raw, manifest) {
  const { shape, normalisation, quantization } = manifest.input;
  const axis = normalisation.axis;
  const stride = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channels = shape[axis];
  if (normalisation.mean.length !== channels || normalisation.std.length !== channels) {
    throw new Error(`manifest normalisation has ${normalisation.mean.length} means for ${channels} channels ` +
                    `(axis ${axis} of [${shape}]); re-export the bundle`);
  }
  const mean = normalisation.mean.map(f32), std = normalisation.std.map(f32);
  const scale = f32(quantization.scale);
  const out = new Int8Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const c = Math.floor(i / stride) % channels;
    const n = f32(f32(f32(raw[i]) - mean[c]) / std[c]);
    const q = roundHalfEven(f32(n / scale)) + quantization.zero_point;
    out[i] = Math.max(-128, Math.min(127, q));
  }
  return out;
}

function gaussian() {  // Box-Muller
  const u = 1 - Math.random(), v = Math.random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

export function addNoise(features, feature) {
  if (!(feature.noise > 0)) return features;
  const out = new Int8Array(features.length);
  for (let i = 0; i < features.length; i++) {
    const f = (features[i] - feature.zero_point) * feature.scale + feature.noise * gaussian();
    out[i] = Math.max(-128, Math.min(127, roundHalfEven(f / feature.scale) + feature.zero_point));
  }
  return out;
}

export class DeviceHalf {
  static async create(modelBytes, manifest, wasmDir) {
    await loadLiteRt(wasmDir);
    return new DeviceHalf(modelBytes, manifest, await DeviceHalf.compile(modelBytes));
  }

  static async compile(modelBytes) {
    const liteRt = getGlobalLiteRt();
    const wasm = liteRt.liteRtWasm;
    const env = liteRt.getDefaultEnvironment();
    const ptr = wasm._malloc(modelBytes.byteLength);
    wasm.HEAPU8.set(modelBytes, ptr);
    const model = wasm.loadModel(env.liteRtEnvironment, ptr, modelBytes.byteLength);
    const compiled = await wasm.compileModel(env.liteRtEnvironment, model,
      { environment: env, accelerator: 'wasm', cpuOptions: { numThreads: 1 }, gpuOptions: {}, webNNOptions: {} });
    return { wasm, env, model, compiled, ptr };
  }

  constructor(modelBytes, manifest, rt) {
    Object.assign(this, rt);
    this.manifest = manifest;
    this.inputType = this.model.getInputTensorType(0, 0);
    this.outputType = this.model.getOutputTensorType(0, 0);
    const dims = (t) => { const d = t.layout().dimensions(); return Array.from({ length: d.size() }, (_, i) => d.get(i)); };
    const check = (what, t, want) => {
      const got = dims(t);
      if (t.elementType().value !== INT8 || got.join() !== want.join()) {
        throw new Error(`device.tflite's ${what} is element type ${t.elementType().value} [${got}]; ` +
                        `manifest.json says int8 [${want}] — serve one bundle's files together`);
      }
    };
    check('input', this.inputType, manifest.input.shape);
    check('output', this.outputType, manifest.feature.shape);
  }

  /** int8 input tensor -> int8 features and the time LiteRT took. */
  async run(quantized) {
    const { wasm, env } = this;
    const input = wasm.LiteRtTensorBuffer.createManaged(env.liteRtEnvironment,
      wasm.LiteRtTensorBufferType.HOST_MEMORY, this.inputType, this.inputType.bytes());
    try {
      const p = input.lock(wasm.LiteRtTensorBufferLockMode.WRITE);
      wasm.HEAPU8.set(new Uint8Array(quantized.buffer, quantized.byteOffset, quantized.length), p);
      input.unlock();
      const t0 = performance.now();
      const outputs = await this.compiled.run(0, [input]);
      const ms = performance.now() - t0;
      const out = outputs[0];
      const q = out.lock(wasm.LiteRtTensorBufferLockMode.READ);
      const features = new Int8Array(wasm.HEAPU8.slice(q, q + this.outputType.bytes()).buffer);
      out.unlock();
      outputs.forEach((o) => o.delete());
      return { features, ms };
    } finally {
      input.delete();
    }
  }
}
