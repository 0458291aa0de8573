/// A small, strict JSON reader for one flat event object: top-level object, scalar members
/// decoded, nested members validated and skipped. Faster than Foundation's JSONSerialization on
/// small objects, allocation-light, and it says exactly what is wrong and where.
struct FlatJSON {
    enum Value: Equatable {
        case string(String)
        /// `integer` is set when the literal has no fraction or exponent and fits in Int64.
        case number(Double, integer: Int64?)
        case bool(Bool)
        case null
        case array
        case object

        var typeName: String {
            switch self {
            case .string: "string"
            case .number: "number"
            case .bool: "boolean"
            case .null: "null"
            case .array: "array"
            case .object: "object"
            }
        }
    }

    struct SyntaxError: Error, Equatable {
        var message: String
        var offset: Int
    }

    /// Members in document order. Duplicate names are reported by `parse`.
    private(set) var members: [(name: String, value: Value)] = []

    subscript(name: String) -> Value? {
        members.first { $0.name == name }?.value
    }

    /// Parses `bytes`; throws `SyntaxError` for malformed JSON, and reports a top-level value that
    /// is not an object through `notAnObject`.
    static func parse(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = 32) throws(ParseFailure) -> FlatJSON {
        var r = Reader(bytes: bytes, maxDepth: maxDepth)
        do {
            r.skipWhitespace()
            guard r.peek() == UInt8(ascii: "{") else {
                if r.atEnd { throw SyntaxError(message: "empty document", offset: r.i) }
                let v = try r.value(depth: 0)
                r.skipWhitespace()
                guard r.atEnd else { throw SyntaxError(message: "trailing characters", offset: r.i) }
                throw ParseFailure.notAnObject(v.typeName)
            }
            var out = FlatJSON()
            r.i += 1
            r.skipWhitespace()
            if r.peek() == UInt8(ascii: "}") {
                r.i += 1
            } else {
                while true {
                    r.skipWhitespace()
                    guard r.peek() == UInt8(ascii: "\"") else { throw SyntaxError(message: "expected a member name", offset: r.i) }
                    let name = try r.string()
                    r.skipWhitespace()
                    guard r.peek() == UInt8(ascii: ":") else { throw SyntaxError(message: "expected ':'", offset: r.i) }
                    r.i += 1
                    r.skipWhitespace()
                    let v = try r.value(depth: 1)
                    if out.members.contains(where: { $0.name == name }) { throw ParseFailure.duplicateMember(name) }
                    out.members.append((name, v))
                    r.skipWhitespace()
                    guard let c = r.next() else { throw SyntaxError(message: "unterminated object", offset: r.i) }
                    if c == UInt8(ascii: "}") { break }
                    guard c == UInt8(ascii: ",") else { throw SyntaxError(message: "expected ',' or '}'", offset: r.i - 1) }
                }
            }
            r.skipWhitespace()
            guard r.atEnd else { throw SyntaxError(message: "trailing characters", offset: r.i) }
            return out
        } catch let e as SyntaxError {
            throw .syntax(e)
        } catch let e as ParseFailure {
            throw e
        } catch {
            throw .syntax(SyntaxError(message: "\(error)", offset: r.i))
        }
    }

    enum ParseFailure: Error, Equatable {
        case syntax(SyntaxError)
        case notAnObject(String)
        case duplicateMember(String)
    }

    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        let maxDepth: Int
        var i = 0

        var atEnd: Bool { i >= bytes.count }
        func peek() -> UInt8? { i < bytes.count ? bytes[i] : nil }
        mutating func next() -> UInt8? {
            guard i < bytes.count else { return nil }
            defer { i += 1 }
            return bytes[i]
        }

        mutating func skipWhitespace() {
            while i < bytes.count {
                switch bytes[i] {
                case 0x20, 0x09, 0x0A, 0x0D: i += 1
                default: return
                }
            }
        }

        mutating func value(depth: Int) throws -> Value {
            guard let c = peek() else { throw SyntaxError(message: "expected a value", offset: i) }
            switch c {
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                try skipContainer(depth: depth)
                return c == UInt8(ascii: "{") ? .object : .array
            case UInt8(ascii: "t"):
                try literal("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try literal("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try literal("null")
                return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default: throw SyntaxError(message: "unexpected character '\(Unicode.Scalar(c))'", offset: i)
            }
        }

        mutating func literal(_ word: StaticString) throws {
            let n = word.utf8CodeUnitCount
            guard i + n <= bytes.count else { throw SyntaxError(message: "truncated literal", offset: i) }
            for k in 0..<n where bytes[i + k] != word.utf8Start[k] {
                throw SyntaxError(message: "invalid literal", offset: i)
            }
            i += n
        }

        mutating func number() throws -> Value {
            let start = i
            var integer = true
            if peek() == UInt8(ascii: "-") { i += 1 }
            guard let first = peek(), first >= 0x30, first <= 0x39 else { throw SyntaxError(message: "invalid number", offset: start) }
            if first == 0x30 {
                i += 1
                if let d = peek(), d >= 0x30, d <= 0x39 { throw SyntaxError(message: "leading zero in number", offset: start) }
            } else {
                while let d = peek(), d >= 0x30, d <= 0x39 { i += 1 }
            }
            if peek() == UInt8(ascii: ".") {
                integer = false
                i += 1
                guard let d = peek(), d >= 0x30, d <= 0x39 else { throw SyntaxError(message: "digit expected after '.'", offset: i) }
                while let d = peek(), d >= 0x30, d <= 0x39 { i += 1 }
            }
            if let e = peek(), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
                integer = false
                i += 1
                if let s = peek(), s == UInt8(ascii: "+") || s == UInt8(ascii: "-") { i += 1 }
                guard let d = peek(), d >= 0x30, d <= 0x39 else { throw SyntaxError(message: "digit expected in exponent", offset: i) }
                while let d = peek(), d >= 0x30, d <= 0x39 { i += 1 }
            }
            let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
            guard let double = Double(text) else { throw SyntaxError(message: "invalid number", offset: start) }
            return .number(double, integer: integer ? Int64(text) : nil)
        }

        mutating func string() throws -> String {
            let start = i
            i += 1  // opening quote
            // Fast path: no escapes.
            var j = i
            var bits: UInt8 = 0
            while j < bytes.count {
                let c = bytes[j]
                if c == UInt8(ascii: "\"") {
                    let slice = UnsafeRawBufferPointer(rebasing: bytes[i..<j])
                    i = j + 1
                    // ASCII (ids, names) is valid UTF-8 as it is: `String(validating:)` costs a generic
                    // metadata lookup per call, a few per cent of the daemon's CPU at full ingest.
                    if bits < 0x80 { return String(decoding: slice, as: UTF8.self) }
                    guard let s = String(validating: slice, as: UTF8.self) else {
                        throw SyntaxError(message: "invalid UTF-8 in string", offset: start)
                    }
                    return s
                }
                bits |= c
                if c == UInt8(ascii: "\\") { break }
                if c < 0x20 { throw SyntaxError(message: "control character in string", offset: j) }
                j += 1
            }
            guard j < bytes.count else { throw SyntaxError(message: "unterminated string", offset: start) }
            // Slow path with escapes.
            var out: [UInt8] = Array(UnsafeRawBufferPointer(rebasing: bytes[i..<j]))
            i = j
            while true {
                guard let c = next() else { throw SyntaxError(message: "unterminated string", offset: start) }
                switch c {
                case UInt8(ascii: "\""):
                    guard let s = String(validating: out, as: UTF8.self) else {
                        throw SyntaxError(message: "invalid UTF-8 in string", offset: start)
                    }
                    return s
                case UInt8(ascii: "\\"):
                    guard let e = next() else { throw SyntaxError(message: "unterminated escape", offset: i) }
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4()
                        if (0xD800..<0xDC00).contains(scalar) {
                            guard next() == UInt8(ascii: "\\"), next() == UInt8(ascii: "u") else {
                                throw SyntaxError(message: "unpaired surrogate", offset: i)
                            }
                            let low = try hex4()
                            guard (0xDC00..<0xE000).contains(low) else { throw SyntaxError(message: "unpaired surrogate", offset: i) }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else if (0xDC00..<0xE000).contains(scalar) {
                            throw SyntaxError(message: "unpaired surrogate", offset: i)
                        }
                        guard let u = Unicode.Scalar(scalar) else { throw SyntaxError(message: "invalid \\u escape", offset: i) }
                        out.append(contentsOf: Array(String(Character(u)).utf8))
                    default: throw SyntaxError(message: "invalid escape '\\\(Unicode.Scalar(e))'", offset: i - 1)
                    }
                default:
                    if c < 0x20 { throw SyntaxError(message: "control character in string", offset: i - 1) }
                    out.append(c)
                }
            }
        }

        mutating func hex4() throws -> UInt32 {
            var v: UInt32 = 0
            for _ in 0..<4 {
                guard let c = next() else { throw SyntaxError(message: "truncated \\u escape", offset: i) }
                let d: UInt32
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - 0x30)
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - 0x61 + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - 0x41 + 10)
                default: throw SyntaxError(message: "invalid hex digit in \\u escape", offset: i - 1)
                }
                v = v << 4 | d
            }
            return v
        }

        /// Validates and skips an object or array (nested members are not needed by events).
        mutating func skipContainer(depth: Int) throws {
            guard depth < maxDepth else { throw SyntaxError(message: "nesting deeper than \(maxDepth)", offset: i) }
            let open = next()!
            let close = open == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            skipWhitespace()
            if peek() == close {
                i += 1
                return
            }
            while true {
                skipWhitespace()
                if open == UInt8(ascii: "{") {
                    guard peek() == UInt8(ascii: "\"") else { throw SyntaxError(message: "expected a member name", offset: i) }
                    _ = try string()
                    skipWhitespace()
                    guard next() == UInt8(ascii: ":") else { throw SyntaxError(message: "expected ':'", offset: i - 1) }
                    skipWhitespace()
                }
                _ = try value(depth: depth + 1)
                skipWhitespace()
                guard let c = next() else { throw SyntaxError(message: "unterminated container", offset: i) }
                if c == close { return }
                guard c == UInt8(ascii: ",") else { throw SyntaxError(message: "expected ',' or '\(Unicode.Scalar(close))'", offset: i - 1) }
            }
        }
    }
}
