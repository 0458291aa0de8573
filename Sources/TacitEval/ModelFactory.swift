import TacitData
import TacitModels

/// Builds a model by its command-line name. New models register here.
public enum ModelFactory {
    public static let names = ["popularity", "bpr", "lightgcn"]

    public struct UnknownModel: Error, CustomStringConvertible {
        public let name: String
        public var description: String { "unknown model '\(name)': choose one of \(ModelFactory.names.joined(separator: ", "))" }
    }

    public static func make(_ name: String, train: TrainingSet, settings: EmbeddingSettings) throws -> Recommender {
        switch name {
        case "popularity", "pop": return Popularity(train: train)
        case "bpr", "bprmf": return BPRMF(train: train, settings: settings)
        case "lightgcn": return LightGCN(train: train, settings: settings)
        default: throw UnknownModel(name: name)
        }
    }
}
