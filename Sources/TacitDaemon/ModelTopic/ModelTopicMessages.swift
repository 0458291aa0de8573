import Foundation
import TacitKafka
import TacitStore

/// How a promoted snapshot travels on the models topic (`kafka.models_topic`): its `SnapshotCodec` bytes
/// cut into chunks under the broker's message size, each keyed `<model>@<version>/<index>`, then a
/// manifest keyed by the model name, written last: a reader serves a version only once its manifest and
/// every chunk it lists have arrived with matching checksums. Keys let a compacted topic keep each
/// model's newest manifest; chunks of older versions can go with the topic's retention.
struct ModelManifest: Codable, Equatable, Sendable {
    static let format = 1
    var format = ModelManifest.format
    var model: String
    var version: Int64
    var createdMs: Int64
    var eventsThroughSeq: Int64
    /// The encoded snapshot's length and CRC-32, and each chunk's CRC-32 in order.
    var bytes: Int
    var crc32: UInt32
    var chunkCRC32: [UInt32]

    static func chunkKey(model: String, version: Int64, index: Int) -> String { "\(model)@\(version)/\(index)" }
}

enum ModelTopicMessages {
    /// 512 KiB: under Kafka's default 1 MB message limit with room for headers and batch overhead.
    static let defaultChunkBytes = 512 * 1024

    /// The records that carry `snapshot` on `topic`, chunks first and the manifest last.
    static func records(for model: TravellingModel, topic: String, chunkBytes: Int = defaultChunkBytes) throws -> [ProducerRecord] {
        precondition(chunkBytes > 0)
        let snapshot = model.snapshot
        let bytes = try SnapshotCodec.encode(model)
        var records: [ProducerRecord] = []
        var crcs: [UInt32] = []
        var start = 0
        repeat {
            let end = min(bytes.count, start + chunkBytes)
            let chunk = Array(bytes[start..<end])
            crcs.append(CRC32.checksum(chunk))
            let key = ModelManifest.chunkKey(model: snapshot.model, version: snapshot.version, index: records.count)
            // One partition: a reader sees every chunk before the manifest that follows it.
            records.append(ProducerRecord(topic: topic, partition: 0, key: Array(key.utf8), value: chunk))
            start = end
        } while start < bytes.count
        let manifest = ModelManifest(
            model: snapshot.model,
            version: snapshot.version,
            createdMs: snapshot.createdMs,
            eventsThroughSeq: snapshot.eventsThroughSeq,
            bytes: bytes.count,
            crc32: CRC32.checksum(bytes),
            chunkCRC32: crcs
        )
        records.append(ProducerRecord(topic: topic, partition: 0, key: Array(snapshot.model.utf8), value: Array(try JSONEncoder().encode(manifest))))
        return records
    }
}

/// Reassembles snapshots from the models topic, message by message (no I/O: `ModelTopicReader` feeds it).
/// A manifest whose chunks are missing, altered or undecodable is refused with the reason, and the
/// reader keeps what it serves. Buffers of a model's versions up to the newest complete one are freed.
struct ModelTopicAssembler {
    enum Outcome: Equatable {
        /// A chunk was kept, or the message is not for this reader.
        case pending
        case complete(TravellingModel)
        case refused(model: String, version: Int64, reason: String)
    }

    /// Chunks by `model@version`, then index.
    private(set) var chunks: [String: [Int: [UInt8]]] = [:]
    /// At most this many bytes are buffered; past it the oldest versions' chunks are dropped (a writer
    /// that died mid-snapshot leaves chunks no manifest will claim).
    let maxBufferedBytes: Int
    private var buffered = 0

    init(maxBufferedBytes: Int = 1 << 31) {
        self.maxBufferedBytes = maxBufferedBytes
    }

    mutating func receive(key: [UInt8]?, value: [UInt8]) -> Outcome {
        guard let key = key.map({ String(decoding: $0, as: UTF8.self) }) else { return .pending }
        // A chunk (`model@version/index`); a manifest's key is the bare model name.
        if let slash = key.lastIndex(of: "/"), key[..<slash].contains("@"), let index = Int(key[key.index(after: slash)...]) {
            let id = String(key[..<slash])
            if let old = chunks[id]?[index] { buffered -= old.count }
            chunks[id, default: [:]][index] = value
            buffered += value.count
            evictIfNeeded(keeping: id)
            return .pending
        }
        let manifest: ModelManifest
        do {
            manifest = try JSONDecoder().decode(ModelManifest.self, from: Data(value))
        } catch {
            return .refused(model: key, version: -1, reason: "manifest does not decode: \(error)")
        }
        guard manifest.model == key else {
            return .refused(model: key, version: manifest.version, reason: "manifest of \(manifest.model) under key \(key)")
        }
        guard manifest.format <= ModelManifest.format else {
            return .refused(model: key, version: manifest.version, reason: "manifest format \(manifest.format) is newer than this build reads")
        }
        let id = "\(manifest.model)@\(manifest.version)"
        defer { drop(model: manifest.model, through: manifest.version) }
        let have = chunks[id] ?? [:]
        var bytes: [UInt8] = []
        bytes.reserveCapacity(manifest.bytes)
        for (index, crc) in manifest.chunkCRC32.enumerated() {
            guard let chunk = have[index] else {
                return .refused(model: manifest.model, version: manifest.version, reason: "chunk \(index) of \(manifest.chunkCRC32.count) missing")
            }
            guard CRC32.checksum(chunk) == crc else {
                return .refused(model: manifest.model, version: manifest.version, reason: "chunk \(index) checksum mismatch")
            }
            bytes += chunk
        }
        guard bytes.count == manifest.bytes, CRC32.checksum(bytes) == manifest.crc32 else {
            return .refused(model: manifest.model, version: manifest.version, reason: "snapshot length or checksum mismatch")
        }
        do {
            let model = try SnapshotCodec.decode(bytes)
            let snapshot = model.snapshot
            guard snapshot.model == manifest.model, snapshot.version == manifest.version else {
                return .refused(model: manifest.model, version: manifest.version, reason: "snapshot is \(snapshot.model)@\(snapshot.version)")
            }
            return .complete(model)
        } catch {
            return .refused(model: manifest.model, version: manifest.version, reason: "\(error)")
        }
    }

    /// Frees the chunks of `model`'s versions up to `version`.
    private mutating func drop(model: String, through version: Int64) {
        for id in chunks.keys {
            guard let at = id.lastIndex(of: "@"), id[..<at] == model, let v = Int64(id[id.index(after: at)...]), v <= version else { continue }
            buffered -= chunks[id]!.values.reduce(0) { $0 + $1.count }
            chunks[id] = nil
        }
    }

    private mutating func evictIfNeeded(keeping current: String) {
        while buffered > maxBufferedBytes, let victim = chunks.keys.filter({ $0 != current }).min(by: Self.olderFirst) {
            buffered -= chunks[victim]!.values.reduce(0) { $0 + $1.count }
            chunks[victim] = nil
        }
    }

    private static func olderFirst(_ a: String, _ b: String) -> Bool {
        func version(_ id: String) -> Int64 { id.lastIndex(of: "@").flatMap { Int64(id[id.index(after: $0)...]) } ?? 0 }
        return version(a) < version(b)
    }
}
