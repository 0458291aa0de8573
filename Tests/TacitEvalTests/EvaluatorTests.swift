import TacitData
import TacitEval
import TacitModels
import TacitTensor
import XCTest

/// Scores fixed per item for every user.
final class FixedScores: Recommender {
    let name = "fixed"
    let parameters: [Tensor] = []
    let itemScores: (Int32, Int32) -> Float
    let itemCount: Int
    init(items: Int, _ f: @escaping (Int32, Int32) -> Float) {
        itemCount = items
        itemScores = f
    }
    func trainEpoch(rng: inout SeededRNG) -> Float { 0 }
    func scores(users: [Int32]) -> [Float] { users.flatMap { u in (0..<Int32(itemCount)).map { itemScores(u, $0) } } }
}

final class EvaluatorTests: XCTestCase {
    func dataset() -> Dataset {
        var rows: [Interaction] = []
        for u in 0..<20 {
            for k in 0..<35 { rows.append(Interaction(user: Int32(u), item: Int32((u * 3 + k) % 50), behavior: 0, timestamp: Int64(k), value: 5)) }
        }
        return Dataset(
            name: "e",
            users: IDMap((0..<20).map { "u\($0)" }),
            items: IDMap((0..<50).map { "i\($0)" }),
            taxonomy: .ratings,
            interactions: rows,
            hasRatings: true
        )
    }

    /// An oracle that scores the test items highest gets HR@10 = 1; one that scores them lowest, 0.
    func testFullRankingOracleAndAntiOracle() {
        let split = EvaluationProtocol.leaveLast10.split(dataset(), seed: 1)
        XCTAssertFalse(split.testUsers.isEmpty)
        let oracle = FixedScores(items: 50) { u, i in split.test[Int(u)].contains(i) ? 10 : 0 }
        let anti = FixedScores(items: 50) { u, i in split.test[Int(u)].contains(i) ? -10 : 0 }
        let ev = Evaluator(split: split, protocol: .leaveLast10)
        XCTAssertEqual(ev.evaluate(oracle, on: .test)["HR@10"], 1)
        XCTAssertEqual(ev.evaluate(oracle, on: .test)["NDCG@10"]!, 1, accuracy: 1e-9)
        XCTAssertEqual(ev.evaluate(anti, on: .test)["HR@10"], 0)
    }

    /// EmoRec's polarity measure: the share of the top K rated ≤ 3 in the held-out window. An oracle over
    /// the held-out items that prefers the ones rated ≤ 3 fills its top 10 with as many as there are.
    func testNegShareCountsTheTopItemsRatedNegativelyInTheWindow() {
        var d = dataset()
        // Every user's last 4 interactions (of the 10 held out) rated 2, 2, 3, 3.
        let start = d.userRanges()
        for u in 0..<20 { for (k, r) in (start[u + 1] - 4..<start[u + 1]).enumerated() { d.interactions[r].value = k < 2 ? 2 : 3 } }
        let split = EvaluationProtocol.leaveLast10.split(d, seed: 1)
        let ev = Evaluator(split: split, protocol: .leaveLast10)
        let negativesFirst = FixedScores(items: 50) { u, i in
            guard let e = split.testEvents[Int(u)].first(where: { $0.item == i }) else { return 0 }
            return e.value <= 3 ? 20 : 10
        }
        let positivesFirst = FixedScores(items: 50) { u, i in
            guard let e = split.testEvents[Int(u)].first(where: { $0.item == i }) else { return 0 }
            return e.value <= 3 ? 10 : 20
        }
        XCTAssertEqual(ev.evaluate(negativesFirst, on: .test)["NegShare@10"]!, 0.4, accuracy: 1e-9)
        XCTAssertEqual(ev.evaluate(negativesFirst, on: .test)["NegShare@5"]!, 0.8, accuracy: 1e-9)
        XCTAssertEqual(ev.evaluate(positivesFirst, on: .test)["NegShare@5"]!, 0, accuracy: 1e-9)
        XCTAssertEqual(ev.evaluate(positivesFirst, on: .test)["Recall@10"]!, 1, accuracy: 1e-9)
        XCTAssertNil(Evaluator(split: split, protocol: .full).evaluate(negativesFirst, on: .test)["NegShare@10"])
    }

    /// Training items are masked in full ranking: scoring them highest must not hurt.
    func testHistoryIsMasked() {
        let split = EvaluationProtocol.leaveLast10.split(dataset(), seed: 1)
        let model = FixedScores(items: 50) { u, i in
            if split.train.target.contains(u, i) { return 100 }
            return split.test[Int(u)].contains(i) ? 10 : 0
        }
        XCTAssertEqual(Evaluator(split: split, protocol: .leaveLast10).evaluate(model, on: .test)["HR@10"], 1)
    }

    /// `--refit`: a fresh model trained on training + validation for exactly the selected epochs, with
    /// the run's seed, tested on the same test; the selected model's test metrics are kept beside it.
    func testRefitRetrainsTheSelectedEpochsOnTrainingAndValidation() {
        let split = EvaluationProtocol.leaveLast10.split(dataset(), seed: 1)
        let settings = EmbeddingSettings(dim: 8, learningRate: 0.05, batchSize: 64)
        let selected = Experiment.run(
            model: BPRMF(train: split.train, settings: settings),
            split: split,
            protocol: .leaveLast10,
            plan: TrainingPlan(epochs: 6, patience: 0, seed: 3),
            dataName: "e"
        )
        let refitSplit = split.withValidationInTraining()
        XCTAssertEqual(
            refitSplit.train.interactions.count,
            split.train.interactions.count + split.validationEvents.map(\.count).reduce(0, +)
        )
        let refitted = Experiment.refit(
            selected,
            model: BPRMF(train: refitSplit.train, settings: settings),
            split: refitSplit,
            protocol: .leaveLast10
        )
        XCTAssertEqual(refitted.refit?.epochs, selected.bestEpoch)
        XCTAssertEqual(refitted.refit?.selectedMetrics, selected.metrics)
        XCTAssertEqual(refitted.bestEpoch, selected.bestEpoch)

        let byHand = BPRMF(train: refitSplit.train, settings: settings)
        var rng = SeededRNG(seed: 3)
        for _ in 0..<selected.bestEpoch { _ = byHand.trainEpoch(rng: &rng) }
        XCTAssertEqual(refitted.metrics, Evaluator(split: refitSplit, protocol: .leaveLast10).evaluate(byHand, on: .test))
        XCTAssertNotEqual(refitted.metrics, selected.metrics, "the refitted model is another model")
    }

    /// Sampled protocol: a constant model earns nothing (ties count against the positive).
    func testSampledTiesArePessimistic() {
        let split = EvaluationProtocol.sampled99.split(dataset(), seed: 1)
        let constant = FixedScores(items: 50) { _, _ in 1 }
        let r = Evaluator(split: split, protocol: .sampled99).evaluate(constant, on: .test)
        XCTAssertEqual(r["HR@10"], 0)
        XCTAssertEqual(r["AUC"]!, 0.5, accuracy: 1e-9)
    }

    /// Skips protocol: candidates are the held-out positive and the skips in its window.
    func testSkipsProtocol() {
        // one user: + + s + s s +  (values 5 = positive, 1 = skip)
        let values: [Float] = [5, 5, 1, 5, 1, 1, 5]
        let rows = values.enumerated().map {
            Interaction(user: 0, item: Int32($0.offset), behavior: 0, timestamp: Int64($0.offset), value: $0.element)
        }
        let d = Dataset(
            name: "s",
            users: IDMap(["u"]),
            items: IDMap((0..<7).map(String.init)),
            taxonomy: .ratings,
            interactions: rows,
            hasRatings: true
        )
        let split = EvaluationProtocol.skips.split(d, seed: 1)
        XCTAssertEqual(split.test[0], [4, 5, 6])
        XCTAssertEqual(split.validation[0], [2, 3])
        XCTAssertEqual(split.train.interactions.map(\.item), [0, 1])
        let good = FixedScores(items: 7) { _, i in i == 6 || i == 3 ? 1 : 0 }
        let r = Evaluator(split: split, protocol: .skips).evaluate(good, on: .test)
        XCTAssertEqual(r["GAUC"], 1)
        XCTAssertEqual(r["NDCG(untruncated)"], 1)
    }

    /// The same split read as positives and skips from events: plays stay, partial watches go.
    func testPositivesAndSkipsFromEvents() {
        let tax = BehaviorTaxonomy(behaviors: ["play", "skip", "watch"], target: "play", positive: ["play"], passiveNegative: ["skip"])
        let rows = [0, 1, 2, 0].enumerated().map {
            Interaction(user: 0, item: Int32($0.offset), behavior: UInt8($0.element), timestamp: Int64($0.offset), value: 0.9)
        }
        let d = Dataset(
            name: "w",
            users: IDMap(["u"]),
            items: IDMap((0..<4).map(String.init)),
            taxonomy: tax,
            interactions: rows,
            hasRatings: true
        ).asPositivesAndSkips()
        XCTAssertEqual(d.interactions.map(\.item), [0, 1, 3])
        XCTAssertEqual(d.interactions.map(\.behavior), [0, 1, 0])
    }

    /// A sequential model is handed each user's history up to the held-out point: training events for
    /// validation, training plus validation events (in time order) for test.
    func testSequentialModelsSeeHistoryUpToTheHeldOutPoint() {
        final class Recorder: SequenceRecommender {
            let name = "recorder"
            let parameters: [Tensor] = []
            let itemCount = 50
            var seen: [[Int32]] = []
            func trainEpoch(rng: inout SeededRNG) -> Float { 0 }
            func scores(users: [Int32]) -> [Float] { [Float](repeating: 0, count: users.count * itemCount) }
            func scores(histories: [[Interaction]]) -> [Float] {
                seen += histories.map { $0.map(\.item) }
                return [Float](repeating: 0, count: histories.count * itemCount)
            }
        }
        let split = EvaluationProtocol.sequential.split(dataset(), seed: 1)
        let model = Recorder()
        let ev = Evaluator(split: split, protocol: .sequential)
        _ = ev.evaluate(model, on: .validation)
        let u0Train = split.train.interactions.filter { $0.user == 0 }.map(\.item)
        XCTAssertEqual(model.seen.first, u0Train)
        model.seen = []
        _ = ev.evaluate(model, on: .test)
        XCTAssertEqual(model.seen.first, u0Train + split.validation[0])
        XCTAssertFalse(model.seen.first!.contains(split.test[0][0]))
    }
}
