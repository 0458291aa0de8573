import Foundation
import TacitModels
import TacitStore

/// How a trained model is recorded in a `ModelSnapshot` besides its tensors, and read back: what
/// serving (and, later, a serving instance reading the models topic) needs to rebuild the network.
///
/// - Format 2 (current): metadata `format = "2"` and `settings`, the model's `ModelSettings` as JSON.
/// - Format 1 (no `format` key, snapshots saved before): sequential models described their network by
///   `arch.*` strings (`legacySettings`); embedding models recorded nothing they need to serve.
///
/// A snapshot of a newer format, or whose record does not decode, is refused: the daemon keeps serving
/// what it has rather than guess at a network.
enum SnapshotFormat {
    static let current = 2
    static let formatKey = "format"
    static let settingsKey = "settings"

    /// The metadata recording `settings` in the current format.
    static func metadata(_ settings: ModelSettings?) -> [String: String] {
        guard let settings, let json = try? JSONEncoder().encode(settings) else { return [formatKey: "\(current)"] }
        return [formatKey: "\(current)", settingsKey: String(decoding: json, as: UTF8.self)]
    }

    /// The format `snapshot` was written in.
    static func version(of snapshot: ModelSnapshot) -> Int { snapshot.metadata[formatKey].flatMap { Int($0) } ?? 1 }

    enum Record: Equatable {
        /// The settings the snapshot records (nil: none, a format-1 embedding model).
        case settings(ModelSettings?)
        /// Why it cannot be read.
        case unreadable(String)
    }

    /// What `snapshot` records of its model.
    static func record(of snapshot: ModelSnapshot) -> Record {
        let format = version(of: snapshot)
        switch format {
        case 1:
            let architecture = snapshot.metadata.filter { $0.key.hasPrefix("arch.") }
            guard !architecture.isEmpty else { return .settings(nil) }
            guard let settings = legacySettings(model: snapshot.model, architecture: architecture) else {
                return .unreadable("format 1 architecture does not describe a \(snapshot.model) network")
            }
            return .settings(settings)
        case current:
            guard let json = snapshot.metadata[settingsKey] else { return .settings(nil) }
            do {
                let settings = try JSONDecoder().decode(ModelSettings.self, from: Data(json.utf8))
                guard settings.name == snapshot.model || settings.kind.rawValue == snapshot.model else {
                    return .unreadable("settings are of \(settings.name), the snapshot of \(snapshot.model)")
                }
                return .settings(settings)
            } catch {
                return .unreadable("settings do not decode: \(error)")
            }
        default:
            return .unreadable("format \(format) is newer than this build reads (\(current))")
        }
    }

    /// A format-1 sequential snapshot's `arch.*` strings as settings; nil when incomplete.
    static func legacySettings(model: String, architecture a: [String: String]) -> ModelSettings? {
        func int(_ k: String) -> Int? { a["arch.\(k)"].flatMap { Int($0) } }
        func float(_ k: String) -> Float? { a["arch.\(k)"].flatMap { Float($0) } }
        guard let dim = int("dim"), let heads = int("heads"), let blocks = int("blocks"), let inner = int("inner"),
            let maxLength = int("max_length"), let dropout = float("dropout"), dim > 0, heads > 0, dim % heads == 0
        else { return nil }
        let transformer = TransformerEncoder.Settings(
            dim: dim,
            heads: heads,
            blocks: blocks,
            innerSize: inner,
            dropout: dropout,
            maxLength: maxLength
        )
        switch model {
        case "sasrec":
            guard let loss = a["arch.loss"].flatMap(SASRec.Loss.init(rawValue:)) else { return nil }
            return .sasrec(.init(transformer: transformer, loss: loss, skipNegatives: a["arch.skip_negatives"] == "true"))
        case "sine":
            var s = SINE.Settings()
            guard let k = int("prototypes"), let ablation = a["arch.ablation"].flatMap(SINE.Ablation.init(rawValue:)),
                let beta1 = float("beta1")
            else { return nil }
            s.transformer = transformer
            s.prototypes = k
            s.ablation = ablation
            s.betaAttention = a["arch.beta_attention"] == "true"
            s.beta1 = beta1
            return .sine(s)
        case "emorec":
            guard let variant = a["arch.variant"].flatMap(EmoRec.Variant.init(name:)), let layers = int("graph_layers"),
                let decay = float("decay_per_day"), let window = float("decay_window"),
                let loss = a["arch.loss"].flatMap(SASRec.Loss.init(rawValue:))
            else { return nil }
            var s = EmoRec.Settings()
            s.variant = variant
            s.dim = dim
            s.graphLayers = layers
            s.hawkes.transformer = transformer
            s.hawkes.decayPerDay = decay
            s.hawkes.window = window
            s.loss = loss
            s.bprPositives = a["arch.bpr_positives"].flatMap(EmoRec.Positives.init(rawValue:)) ?? .positive
            return .emorec(s)
        default:
            return nil
        }
    }
}
