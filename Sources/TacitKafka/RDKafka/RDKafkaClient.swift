import CRDKafka
import Logging

/// Callbacks from librdkafka's C world, reached through the handle's opaque pointer.
/// The owner keeps the context alive for as long as the handle exists.
final class RDKafkaContext: Sendable {
    let logger: Logger
    let onError: @Sendable (_ code: RDKafkaCode, _ reason: String) -> Void
    let onRebalance: (@Sendable (RDKafkaRebalance) -> Void)?
    let onDelivery: (@Sendable (RDKafkaDelivery) -> Void)?
    /// Connection failures repeat up to about 20 times a second per client while a broker is down.
    let connectionFailures = Locked(LogThrottle(interval: .seconds(30)))

    init(
        logger: Logger,
        onError: @escaping @Sendable (RDKafkaCode, String) -> Void,
        onRebalance: (@Sendable (RDKafkaRebalance) -> Void)? = nil,
        onDelivery: (@Sendable (RDKafkaDelivery) -> Void)? = nil
    ) {
        self.logger = logger
        self.onError = onError
        self.onRebalance = onRebalance
        self.onDelivery = onDelivery
    }

    static func from(_ opaque: UnsafeMutableRawPointer?) -> RDKafkaContext? {
        opaque.map { Unmanaged<RDKafkaContext>.fromOpaque($0).takeUnretainedValue() }
    }
}

/// Internal helpers over the C API (the handle's calls are in `RDKafkaHandle`). Nothing here is public.
enum RDKafka {
    static func errorString(_ err: rd_kafka_resp_err_t) -> String {
        String(cString: rd_kafka_err2str(err))
    }

    static func errorName(_ err: rd_kafka_resp_err_t) -> String {
        String(cString: rd_kafka_err2name(err))
    }

    /// Creates a client handle of `type` from `properties`, wiring log, error and the optional
    /// rebalance and delivery callbacks to `context` (held unretained: the caller owns it).
    static func makeHandle(
        _ type: rd_kafka_type_t,
        properties: [(String, String)],
        context: RDKafkaContext
    ) throws -> OpaquePointer {
        guard let conf = rd_kafka_conf_new() else {
            throw KafkaError(.clientCreation, "rd_kafka_conf_new failed")
        }
        var errstr = [CChar](repeating: 0, count: 512)
        for (key, value) in properties {
            let res = rd_kafka_conf_set(conf, key, value, &errstr, errstr.count)
            if res != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                throw KafkaError(.configuration, "\(key)=\(value): \(RDKafka.cString(errstr))")
            }
        }
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(context).toOpaque())
        rd_kafka_conf_set_log_cb(conf) { rk, level, facility, message in
            guard let rk, let ctx = RDKafkaContext.from(rd_kafka_opaque(rk)) else { return }
            let facilityName = facility.map { String(cString: $0) } ?? "?"
            let text = "\(facilityName): \(message.map { String(cString: $0) } ?? "")"
            switch level {
            // FAIL is a connection attempt that librdkafka retries by itself, many times a second while a
            // broker is unreachable; the error callback reports the outage once ("all brokers down").
            // One warning per interval says the outage goes on; the repeats in between go to debug.
            case ...3 where facilityName == "FAIL":
                let suppressed = ctx.connectionFailures.withLock { $0.admit(at: .now) }
                if let suppressed {
                    let repeats = suppressed > 0 ? " (\(suppressed) more connection failures since the last warning)" : ""
                    ctx.logger.warning("librdkafka \(text)\(repeats)")
                } else {
                    ctx.logger.debug("librdkafka \(text)")
                }
            case ...3: ctx.logger.error("librdkafka \(text)")
            case 4: ctx.logger.warning("librdkafka \(text)")
            case 5, 6: ctx.logger.info("librdkafka \(text)")
            default: ctx.logger.debug("librdkafka \(text)")
            }
        }
        rd_kafka_conf_set_error_cb(conf) { _, err, reason, opaque in
            guard let ctx = RDKafkaContext.from(opaque) else { return }
            ctx.onError(RDKafkaCode(raw: rd_kafka_resp_err_t(err)), reason.map { String(cString: $0) } ?? "")
        }
        if context.onRebalance != nil {
            rd_kafka_conf_set_rebalance_cb(conf) { rk, err, partitions, opaque in
                guard let rk, let partitions, let ctx = RDKafkaContext.from(opaque) else { return }
                ctx.onRebalance?(RDKafkaRebalance(rk: rk, err: err, list: partitions))
            }
        }
        if context.onDelivery != nil {
            rd_kafka_conf_set_dr_msg_cb(conf) { _, message, opaque in
                guard let message, let ctx = RDKafkaContext.from(opaque) else { return }
                let m = message.pointee
                ctx.onDelivery?(
                    RDKafkaDelivery(
                        opaque: UInt(bitPattern: m._private),
                        code: RDKafkaCode(raw: m.err),
                        topic: m.err == RD_KAFKA_RESP_ERR_NO_ERROR ? String(cString: rd_kafka_topic_name(m.rkt)) : "",
                        partition: m.partition,
                        offset: m.offset
                    )
                )
            }
        }
        guard let handle = rd_kafka_new(type, conf, &errstr, errstr.count) else {
            // rd_kafka_new does not take ownership of conf on failure.
            rd_kafka_conf_destroy(conf)
            throw KafkaError(.clientCreation, RDKafka.cString(errstr))
        }
        return handle
    }

    /// A Swift dictionary view of a C partition list's offsets.
    static func offsets(of list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> [(TopicPartition, Int64)] {
        let l = list.pointee
        return (0..<Int(l.cnt)).map { i in
            let e = l.elems[i]
            return (TopicPartition(String(cString: e.topic), e.partition), e.offset)
        }
    }

    /// A new C partition list with `offsets` (offset −1001 = invalid leaves the choice to librdkafka).
    static func makeList(_ offsets: [(TopicPartition, Int64)]) -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
        let list = rd_kafka_topic_partition_list_new(Int32(max(offsets.count, 1)))!
        for (tp, offset) in offsets {
            let e = rd_kafka_topic_partition_list_add(list, tp.topic, tp.partition)!
            e.pointee.offset = offset
        }
        return list
    }

    static func cString(_ buffer: [CChar]) -> String {
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func bytes(_ ptr: UnsafeMutableRawPointer?, _ len: Int) -> [UInt8] {
        guard let ptr, len > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: ptr, count: len))
    }

    static func headers(of message: UnsafeMutablePointer<rd_kafka_message_t>) -> [KafkaHeader] {
        var hdrs: OpaquePointer?
        guard rd_kafka_message_headers(message, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR, let hdrs else { return [] }
        var out: [KafkaHeader] = []
        var idx = 0
        while true {
            var name: UnsafePointer<CChar>?
            var value: UnsafeRawPointer?
            var size = 0
            guard rd_kafka_header_get_all(hdrs, idx, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR else { break }
            let bytes = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) }
            out.append(KafkaHeader(name: name.map { String(cString: $0) } ?? "", value: bytes))
            idx += 1
        }
        return out
    }
}

/// The librdkafka loaded at run time (tests and the demo put 2.16 in front of the system's 2.0).
struct RDKafkaVersion: Comparable {
    let major: Int32, minor: Int32
    init(_ major: Int32, _ minor: Int32) {
        self.major = major
        self.minor = minor
    }
    /// `rd_kafka_version()` is 0xMMmmrrxx.
    static let current = RDKafkaVersion(rd_kafka_version() >> 24 & 0xff, rd_kafka_version() >> 16 & 0xff)
    static func < (a: Self, b: Self) -> Bool { (a.major, a.minor) < (b.major, b.minor) }
}
