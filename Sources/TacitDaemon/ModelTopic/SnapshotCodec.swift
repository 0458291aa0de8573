import Foundation
import TacitStore

/// A promoted model as it travels between instances: the snapshot, and the external id of each of its
/// item rows (dense ids are each store's own, so a reader maps rows to its own items by these).
struct TravellingModel: Sendable, Equatable {
    var snapshot: ModelSnapshot
    var itemIDs: [String]
}

/// A `TravellingModel` as bytes, for the models topic: the magic `TSN1`, a little-endian UInt32 header
/// length, a JSON header (everything but the tensor values, shapes and item ids included), then every
/// tensor's values as little-endian Float32, in header order.
enum SnapshotCodec {
    static let magic: [UInt8] = Array("TSN1".utf8)

    struct Header: Codable {
        struct Tensor: Codable {
            var name: String
            var shape: [Int]
        }
        var version: Int64
        var model: String
        var createdMs: Int64
        var metadata: [String: String]
        var metrics: [String: Double]
        var userCount: Int
        var itemCount: Int
        var eventsThroughSeq: Int64
        var tensors: [Tensor]
        var itemIDs: [String]
    }

    struct DecodingFailure: Error, CustomStringConvertible {
        var description: String
    }

    static func encode(_ model: TravellingModel) throws -> [UInt8] {
        let s = model.snapshot
        guard model.itemIDs.count == s.itemCount else {
            throw DecodingFailure(description: "\(model.itemIDs.count) item ids for \(s.itemCount) items")
        }
        let header = Header(
            version: s.version,
            model: s.model,
            createdMs: s.createdMs,
            metadata: s.metadata,
            metrics: s.metrics,
            userCount: s.userCount,
            itemCount: s.itemCount,
            eventsThroughSeq: s.eventsThroughSeq,
            tensors: s.tensors.map { .init(name: $0.name, shape: $0.shape) },
            itemIDs: model.itemIDs
        )
        let json = try JSONEncoder().encode(header)
        var out = magic
        out.reserveCapacity(8 + json.count + s.tensors.reduce(0) { $0 + 4 * $1.values.count })
        withUnsafeBytes(of: UInt32(json.count).littleEndian) { out += $0 }
        out += json
        for t in s.tensors {
            #if _endian(little)
            t.values.withUnsafeBytes { out += $0 }
            #else
            for v in t.values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 } }
            #endif
        }
        return out
    }

    /// The model in `bytes` (its snapshot promoted: it travels only once promoted); throws on any mismatch.
    static func decode(_ bytes: [UInt8]) throws -> TravellingModel {
        guard bytes.count >= 8, Array(bytes[0..<4]) == magic else { throw DecodingFailure(description: "not a snapshot (magic)") }
        let length = Int(UInt32(bytes[4]) | UInt32(bytes[5]) << 8 | UInt32(bytes[6]) << 16 | UInt32(bytes[7]) << 24)
        guard length <= bytes.count - 8 else { throw DecodingFailure(description: "header runs past the end") }
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: Data(bytes[8..<(8 + length)]))
        } catch {
            throw DecodingFailure(description: "header: \(error)")
        }
        var offset = 8 + length
        var tensors: [SnapshotTensor] = []
        for t in header.tensors {
            guard t.shape.allSatisfy({ $0 >= 0 }) else { throw DecodingFailure(description: "tensor \(t.name): negative shape") }
            let count = t.shape.reduce(1, *)
            guard count <= (bytes.count - offset) / 4 else { throw DecodingFailure(description: "tensor \(t.name) runs past the end") }
            var values = [Float](repeating: 0, count: count)
            let start = offset
            bytes.withUnsafeBytes { raw in
                #if _endian(little)
                values.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[start..<(start + 4 * count)])) }
                #else
                for k in 0..<count {
                    values[k] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: start + 4 * k, as: UInt32.self)))
                }
                #endif
            }
            offset += 4 * count
            tensors.append(SnapshotTensor(name: t.name, shape: t.shape, values: values))
        }
        guard offset == bytes.count else { throw DecodingFailure(description: "\(bytes.count - offset) bytes after the last tensor") }
        guard header.itemIDs.count == header.itemCount else {
            throw DecodingFailure(description: "\(header.itemIDs.count) item ids for \(header.itemCount) items")
        }
        let snapshot = ModelSnapshot(
            version: header.version,
            model: header.model,
            createdMs: header.createdMs,
            metadata: header.metadata,
            metrics: header.metrics,
            tensors: tensors,
            userCount: header.userCount,
            itemCount: header.itemCount,
            eventsThroughSeq: header.eventsThroughSeq,
            promoted: true
        )
        return TravellingModel(snapshot: snapshot, itemIDs: header.itemIDs)
    }
}

/// CRC-32 (IEEE 802.3, as zlib's `crc32`): catches a chunk torn or altered in transit.
enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum<C: Collection>(_ bytes: C, continuing crc: UInt32 = 0) -> UInt32 where C.Element == UInt8 {
        var c = ~crc
        for b in bytes { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return ~c
    }
}
