// HybridSplitDevice.swift — the device half of a hybridsplit bundle on iOS (Core ML), sending its
// features to the cloud half (`hybridsplit serve`) in the wire format v1.
// Not compiled or run in this repository (no Swift toolchain, no Core ML runtime on Linux): see README.md.
//
// Add to the app target: device.mlpackage (Xcode compiles it to device.mlmodelc) and manifest.json.

import CoreML
import CryptoKit
import Foundation

/// The manifest.json fields the device needs; nothing about the model is hard-coded.
struct BundleManifest: Decodable {
    struct Normalisation: Decodable { let mean: [Float]; let std: [Float]; let axis: Int }
    struct Quantization: Decodable { let scale: Float; let zero_point: Int }
    struct Input: Decodable {
        let name: String
        let shape: [Int]
        let layout: String
        let normalisation: Normalisation
        let channels: [String]
        let sample_rate_hz: Double?
    }
    struct Feature: Decodable {
        let shape: [Int]
        let dtype: String
        let scale: Float?
        let zero_point: Int?
        let noise: Double
    }
    let schema_version: Int
    let input: Input
    let feature: Feature
    let labels: [String]
}

enum HybridSplitError: Error { case badManifest(String), badModel(String), server(Int, String) }

final class HybridSplitDevice {
    let manifest: BundleManifest
    let bundleId: Data              // sha256 of the manifest.json bytes (wire header)
    private let model: MLModel
    private let outputName: String

    init(computeUnits: MLComputeUnits = .all) throws {
        guard let manifestURL = Bundle.main.url(forResource: "manifest", withExtension: "json"),
              let modelURL = Bundle.main.url(forResource: "device", withExtension: "mlmodelc") else {
            throw HybridSplitError.badManifest("add manifest.json and device.mlpackage to the app target")
        }
        let manifestBytes = try Data(contentsOf: manifestURL)
        manifest = try JSONDecoder().decode(BundleManifest.self, from: manifestBytes)
        guard manifest.schema_version == 1 else { throw HybridSplitError.badManifest("schema_version \(manifest.schema_version)") }
        bundleId = Data(SHA256.hash(data: manifestBytes))

        let config = MLModelConfiguration()
        config.computeUnits = computeUnits    // .all (ANE + GPU + CPU), .cpuAndNeuralEngine, .cpuAndGPU, .cpuOnly
        model = try MLModel(contentsOf: modelURL, configuration: config)
        guard model.modelDescription.inputDescriptionsByName[manifest.input.name] != nil else {
            throw HybridSplitError.badModel("device.mlpackage has no input '\(manifest.input.name)'")
        }
        guard let out = model.modelDescription.outputDescriptionsByName.keys.sorted().first else {
            throw HybridSplitError.badModel("device.mlpackage has no output")
        }
        outputName = out
    }

    /// Raw window in the manifest's layout (e.g. NCW, flattened) -> float32 features (C order).
    func features(raw: [Float]) throws -> (values: [Float], deviceMs: Double) {
        let shape = manifest.input.shape
        let count = shape.reduce(1, *)
        guard raw.count == count else { throw HybridSplitError.badModel("window has \(raw.count) values, model takes \(count)") }
        let axis = manifest.input.normalisation.axis
        let stride = shape[(axis + 1)...].reduce(1, *)
        let x = try MLMultiArray(shape: shape.map { NSNumber(value: $0) }, dataType: .float32)
        let px = x.dataPointer.bindMemory(to: Float.self, capacity: count)
        for i in 0..<count {                            // (x - mean[c]) / std[c], as the manifest says
            let c = (i / stride) % shape[axis]
            px[i] = (raw[i] - manifest.input.normalisation.mean[c]) / manifest.input.normalisation.std[c]
        }
        // Core ML runs the float device half (fp16 compute on the ANE/GPU): no input quantization here;
        // input.quantization in the manifest is for the int8 device.tflite.
        let t0 = DispatchTime.now()
        let out = try model.prediction(from: MLDictionaryFeatureProvider(dictionary: [manifest.input.name: x]))
        let ms = Double(DispatchTime.now().uptimeNanoseconds - t0.uptimeNanoseconds) / 1e6
        guard let y = out.featureValue(for: outputName)?.multiArrayValue else { throw HybridSplitError.badModel("no output") }
        var values = [Float](repeating: 0, count: y.count)
        for i in 0..<y.count { values[i] = y[i].floatValue }   // handles fp16 and fp32 outputs
        return (values, ms)
    }

    /// Wire format v1 message of int8 features (quantized with the manifest's feature scale/zero point,
    /// after the manifest's feature noise, as the Android app and the Python client do).
    func message(features: [Float]) throws -> Data {
        guard let scale = manifest.feature.scale, let zp = manifest.feature.zero_point else {
            throw HybridSplitError.badManifest("feature.scale / zero_point missing")
        }
        var q = [Int8](repeating: 0, count: features.count)
        for i in 0..<features.count {
            var f = features[i]
            if manifest.feature.noise > 0 { f += Float(gaussian() * manifest.feature.noise) }
            let v = (f / scale).rounded(.toNearestOrEven) + Float(zp)
            q[i] = Int8(max(-128, min(127, v)))
        }
        var d = Data()
        d.append(contentsOf: Array("HSF1".utf8))
        d.append(contentsOf: [1, 1, UInt8(manifest.feature.shape.count), 0])   // version, dtype int8, ndim, flags
        d.append(bundleId)                                                   // 32 bytes
        withUnsafeBytes(of: scale.bitPattern.littleEndian) { d.append(contentsOf: $0) }
        withUnsafeBytes(of: Int32(zp).littleEndian) { d.append(contentsOf: $0) }
        for dim in manifest.feature.shape { withUnsafeBytes(of: UInt32(dim).littleEndian) { d.append(contentsOf: $0) } }
        q.withUnsafeBytes { d.append(contentsOf: $0) }
        return d
    }

    /// POST the message to the cloud half; returns (label, probability, round trip ms).
    func predict(message: Data, server: URL, token: String) async throws -> (String, Double, Double) {
        var req = URLRequest(url: server.appendingPathComponent("v1/predict"))
        req.httpMethod = "POST"
        req.setValue("application/x-hybridsplit-features", forHTTPHeaderField: "Content-Type")
        req.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        let t0 = Date()
        let (body, response) = try await URLSession.shared.upload(for: req, from: message)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard status == 200 else { throw HybridSplitError.server(status, String(decoding: body, as: UTF8.self)) }
        struct Answer: Decodable {
            struct Prediction: Decodable { let index: Int; let label: String; let probabilities: [Double] }
            let predictions: [Prediction]
        }
        let p = try JSONDecoder().decode(Answer.self, from: body).predictions[0]
        return (p.label, p.probabilities[p.index], Date().timeIntervalSince(t0) * 1000)
    }

    private func gaussian() -> Double {   // Box-Muller
        let u1 = Double.random(in: Double.ulpOfOne..<1), u2 = Double.random(in: 0..<1)
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
}
