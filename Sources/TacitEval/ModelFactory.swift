import TacitData
import TacitModels

/// Builds a model by its command-line name. New models register here.
public enum ModelFactory {
    public static let names = ["popularity", "popularity-all", "bpr", "lightgcn", "hnt"]

    public struct UnknownModel: Error, CustomStringConvertible {
        public let name: String
        public var description: String { "unknown model '\(name)': choose one of \(ModelFactory.names.joined(separator: ", "))" }
    }

    /// `hnt` takes its own settings from `hnt`, with `settings` as its embedding settings.
    public static func make(_ name: String, train: TrainingSet, settings: EmbeddingSettings,
                            hnt: HNT.Settings = HNT.Settings()) throws -> Recommender {
        switch name {
        case "popularity", "pop": return Popularity(train: train)
        case "popularity-all": return Popularity(train: train, allBehaviors: true)
        case "bpr", "bprmf": return BPRMF(train: train, settings: settings)
        case "lightgcn": return LightGCN(train: train, settings: settings)
        case "hnt":
            var h = hnt
            h.embedding = settings
            return HNT(train: train, settings: h)
        default: throw UnknownModel(name: name)
        }
    }
}
