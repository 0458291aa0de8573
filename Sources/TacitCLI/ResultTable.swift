import Foundation
import TacitEval

/// Renders experiment results: a metrics table (mean ± std over seeds) and the JSON document.
enum ResultTable {
    static let order = [
        "HR@10", "NDCG@10", "Recall@10", "Precision@10", "MAP@10", "MRR@10", "NegShare@10", "AUC", "GAUC",
        "NDCG(untruncated)", "HR@20", "NDCG@20", "Recall@20", "HR@5", "NDCG@5",
    ]

    static func meanStd(_ xs: [Double]) -> (Double, Double) {
        let m = xs.reduce(0, +) / Double(max(xs.count, 1))
        let v = xs.count > 1 ? xs.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(xs.count - 1) : 0
        return (m, v.squareRoot())
    }

    static func render(_ results: [ExperimentResult]) -> String {
        guard let first = results.first else { return "" }
        let keys = order.filter { first.metrics[$0] != nil }
        let refit = first.refit != nil ? ", refit on training + validation" : ""
        var lines = [
            "",
            "\(first.model) on \(first.data), protocol \(first.protocol)\(refit), seeds \(results.map { String($0.seed) }.joined(separator: ","))",
        ]
        for k in keys {
            let (m, s) = meanStd(results.map { $0.metrics[k] ?? 0 })
            lines.append(String(format: "  %-18@ %.4f", k, m) + (results.count > 1 ? String(format: " ± %.4f", s) : ""))
        }
        let (spe, _) = meanStd(results.map(\.secondsPerEpoch))
        lines.append(String(format: "  %-18@ %.3f", "s/epoch", spe))
        lines.append("  best epochs        \(results.map { String($0.bestEpoch) }.joined(separator: ", "))")
        return lines.joined(separator: "\n")
    }

    static func json(_ results: [ExperimentResult]) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        if results.count == 1 { return try encoder.encode(results[0]) }
        struct Multi: Encodable {
            var model: String, data: String, `protocol`: String, seeds: [UInt64]
            var metrics: [String: Double], metrics_std: [String: Double]
            var train_seconds: Double, seconds_per_epoch: Double, runs: [ExperimentResult]
        }
        let keys = Set(results.flatMap { $0.metrics.keys })
        var mean: [String: Double] = [:], std: [String: Double] = [:]
        for k in keys { (mean[k], std[k]) = meanStd(results.map { $0.metrics[k] ?? 0 }) }
        let r = results[0]
        return try encoder.encode(
            Multi(
                model: r.model,
                data: r.data,
                protocol: r.protocol,
                seeds: results.map(\.seed),
                metrics: mean,
                metrics_std: std,
                train_seconds: results.map(\.trainSeconds).reduce(0, +),
                seconds_per_epoch: meanStd(results.map(\.secondsPerEpoch)).0,
                runs: results
            )
        )
    }
}
