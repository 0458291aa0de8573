import Foundation
import TacitEval
import XCTest

final class MetricsTests: XCTestCase {
    func value(_ name: String, ranked: [Int32], relevant: Set<Int32>, k: Int) -> Double {
        let names = Metrics.names(ks: [k])
        return Metrics.values(ranked: ranked[...], relevant: relevant, ks: [k])[names.firstIndex(of: name)!]
    }

    /// One relevant item at rank 2 (0-based 1): NDCG = 1/log2(3), MRR = 1/2, MAP = 1/2.
    func testSingleRelevantItem() {
        let ranked: [Int32] = [5, 3, 9]
        XCTAssertEqual(value("HR@10", ranked: ranked, relevant: [3], k: 10), 1)
        XCTAssertEqual(value("NDCG@10", ranked: ranked, relevant: [3], k: 10), 1 / log2(3), accuracy: 1e-12)
        XCTAssertEqual(value("MRR@10", ranked: ranked, relevant: [3], k: 10), 0.5)
        XCTAssertEqual(value("MAP@10", ranked: ranked, relevant: [3], k: 10), 0.5)
        XCTAssertEqual(value("Recall@10", ranked: ranked, relevant: [3], k: 10), 1)
        XCTAssertEqual(value("Precision@10", ranked: ranked, relevant: [3], k: 10), 0.1)
        XCTAssertEqual(value("HR@1", ranked: ranked, relevant: [3], k: 1), 0)
    }

    /// Several relevant items: ideal DCG is cut at min(K, |relevant|).
    func testSeveralRelevantItems() {
        let ranked: [Int32] = [1, 7, 2, 8]
        let relevant: Set<Int32> = [1, 2, 3]
        let dcg = 1 / log2(2.0) + 1 / log2(4.0)
        let idcg2 = 1 / log2(2.0) + 1 / log2(3.0)
        XCTAssertEqual(value("NDCG@2", ranked: ranked, relevant: relevant, k: 2), (1 / log2(2.0)) / idcg2, accuracy: 1e-12)
        let idcg3 = idcg2 + 1 / log2(4.0)
        XCTAssertEqual(value("NDCG@4", ranked: ranked, relevant: relevant, k: 4), dcg / idcg3, accuracy: 1e-12)
        XCTAssertEqual(value("Recall@4", ranked: ranked, relevant: relevant, k: 4), 2.0 / 3.0, accuracy: 1e-12)
        // MAP@4: (1/1 + 2/3) / min(4, 3)
        XCTAssertEqual(value("MAP@4", ranked: ranked, relevant: relevant, k: 4), (1 + 2.0 / 3.0) / 3, accuracy: 1e-12)
    }

    /// AUC counts ties as ½ and agrees with the pooled rank-sum formula on one user.
    func testAUC() {
        XCTAssertEqual(Metrics.auc(positives: [0.9], negatives: [0.1, 0.5, 0.95]), 2.0 / 3.0)
        XCTAssertEqual(Metrics.auc(positives: [0.5], negatives: [0.5]), 0.5)
        XCTAssertNil(Metrics.auc(positives: [], negatives: [1]))
        let pos: [Float] = [0.9, 0.3, 0.7], neg: [Float] = [0.1, 0.3, 0.8, 0.2]
        let pooled = Metrics.pooledAUC(pos.map { ($0, true) } + neg.map { ($0, false) })!
        XCTAssertEqual(pooled, Metrics.auc(positives: pos, negatives: neg)!, accuracy: 1e-12)
    }

    /// top-K: best first, ties to the lower index, excluded positions skipped.
    func testTopK() {
        let scores: [Float] = [0.5, 0.9, 0.9, 0.1, 0.7]
        let top = scores.withUnsafeBufferPointer { Metrics.topK($0, k: 3) { $0 == 4 } }
        XCTAssertEqual(top, [1, 2, 0])
    }
}
