import Foundation
import TacitData
import TacitEval
import TacitModels
import TacitTensor
import XCTest

/// Every model learns on a small real slice: its loss falls and it beats popularity.
final class LearningTests: XCTestCase {
    static let ml100k = ".data/ml-100k/ml-100k.inter"

    func movieLens() throws -> Split {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: Self.ml100k), "no \(Self.ml100k): run scripts/setup.sh")
        return EvaluationProtocol.full.split(try DatasetLoader.load("ml-100k"), seed: 1)
    }

    func train(_ model: Recommender, epochs: Int) -> [Float] {
        var rng = SeededRNG(seed: 5)
        return (0..<epochs).map { _ in model.trainEpoch(rng: &rng) }
    }

    func assertLearns(_ model: Recommender, split: Split, epochs: Int, file: StaticString = #filePath, line: UInt = #line) {
        let losses = train(model, epochs: epochs)
        XCTAssertLessThan(losses.last!, losses.first! * 0.9, "loss should fall: \(losses)", file: file, line: line)
        let ev = Evaluator(split: split, protocol: .full)
        let ndcg = ev.evaluate(model, on: .test)["NDCG@10"]!
        let pop = ev.evaluate(Popularity(train: split.train), on: .test)["NDCG@10"]!
        XCTAssertGreaterThan(ndcg, pop * 1.2, "\(model.name) NDCG@10 \(ndcg) vs popularity \(pop)", file: file, line: line)
    }

    func testBPRLearns() throws {
        let split = try movieLens()
        assertLearns(BPRMF(train: split.train, settings: .init(learningRate: 5e-3, l2: 0)), split: split, epochs: 12)
    }

    func testLightGCNLearns() throws {
        let split = try movieLens()
        assertLearns(LightGCN(train: split.train, settings: .init(learningRate: 5e-3, l2: 1e-4, layers: 2)), split: split, epochs: 8)
    }

    /// Same seed, same parameters bit for bit.
    func testTrainingIsReproducible() throws {
        let split = try movieLens()
        func run() -> [[Float]] {
            let m = LightGCN(train: split.train, settings: .init(dim: 16, layers: 2))
            _ = train(m, epochs: 1)
            return m.snapshot()
        }
        XCTAssertEqual(run(), run())
    }

    /// Popularity ranks by distinct training users.
    func testPopularityScores() {
        let tax = BehaviorTaxonomy.ratings
        let rows = [(0, 1), (1, 1), (2, 1), (0, 2), (1, 2), (0, 0)].map {
            Interaction(user: Int32($0.0), item: Int32($0.1), behavior: 0, timestamp: 0)
        }
        let train = TrainingSet(userCount: 3, itemCount: 3, taxonomy: tax, interactions: rows)
        XCTAssertEqual(Popularity(train: train).scores(users: [0]), [1, 3, 2])
    }
}
