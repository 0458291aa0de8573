/// A configuration problem, naming the file and the key: `configs/tacit.toml: kafka.brokers: expected a non-empty string`.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public let file: String
    /// Dotted key path (`kafka.brokers`), or `line L, column C` for syntax errors.
    public let key: String
    public let message: String

    public init(file: String, key: String, message: String) {
        self.file = file
        self.key = key
        self.message = message
    }

    public var description: String { "\(file): \(key): \(message)" }
}
