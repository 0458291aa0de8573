import TacitData
import TacitModels

/// Builds a model by its command-line name. New models register here.
public enum ModelFactory {
    public static let names = ["popularity", "popularity-all", "bpr", "lightgcn", "hnt", "sasrec", "sasrec-n", "sine", "emorec"]
    /// Older spellings `make` still accepts.
    static let aliases = ["pop", "bprmf"]

    /// Whether `make` builds a model of this name: lets a command reject a typo before it loads data.
    public static func isKnown(_ name: String) -> Bool { names.contains(name) || aliases.contains(name) }

    public struct UnknownModel: Error, CustomStringConvertible {
        public let name: String
        public init(name: String) { self.name = name }
        public var description: String { "unknown model '\(name)': choose one of \(ModelFactory.names.joined(separator: ", "))" }
    }

    /// `hnt` takes its own settings from `hnt`, with `settings` as its embedding settings; the
    /// sequential models take theirs from `sasrec` and `sine` (`sasrec-n` is `sasrec` with skips as negatives),
    /// EmoRec from `emorec` (its variant included).
    public static func make(
        _ name: String,
        train: TrainingSet,
        settings: EmbeddingSettings,
        hnt: HNT.Settings = HNT.Settings(),
        sasrec: SASRec.Settings = SASRec.Settings(),
        sine: SINE.Settings = SINE.Settings(),
        emorec: EmoRec.Settings = EmoRec.Settings()
    ) throws -> Recommender {
        switch name {
        case "popularity", "pop": return Popularity(train: train)
        case "popularity-all": return Popularity(train: train, allBehaviors: true)
        case "bpr", "bprmf": return BPRMF(train: train, settings: settings)
        case "lightgcn": return LightGCN(train: train, settings: settings)
        case "hnt":
            var h = hnt
            h.embedding = settings
            return HNT(train: train, settings: h)
        case "sasrec", "sasrec-n":
            var s = sasrec
            s.skipNegatives = name == "sasrec-n"
            return SASRec(train: train, settings: s)
        case "sine": return SINE(train: train, settings: sine)
        case "emorec": return EmoRec(train: train, settings: emorec)
        default: throw UnknownModel(name: name)
        }
    }
}
