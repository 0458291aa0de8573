import TacitData
import TacitModels
import XCTest

@testable import TacitEval

/// `isKnown` lets the CLI reject a misspelled `--model` before loading data; it must accept exactly
/// what `make` builds, or a valid model would be refused (or a typo would load a dataset first).
final class ModelFactoryTests: XCTestCase {
    func tinyTrainingSet() -> TrainingSet {
        var rows: [Interaction] = []
        for u in 0..<6 {
            for k in 0..<8 {
                rows.append(
                    Interaction(
                        user: Int32(u),
                        item: Int32((u * 2 + k) % 12),
                        behavior: 0,
                        timestamp: Int64(k) * 3_600,
                        value: Float(1 + (u + k) % 5)
                    )
                )
            }
        }
        return TrainingSet(userCount: 6, itemCount: 12, taxonomy: .ratings, interactions: rows)
    }

    func testEveryKnownNameBuildsAModelThatScoresEveryItem() throws {
        let train = tinyTrainingSet()
        var settings = EmbeddingSettings()
        settings.dim = 8
        for name in ModelFactory.names + ModelFactory.aliases {
            XCTAssertTrue(ModelFactory.isKnown(name), name)
            let model = try ModelFactory.make(name, train: train, settings: settings)
            XCTAssertEqual(model.scores(users: [0, 5]).count, 2 * 12, name)
        }
    }

    func testAnUnknownNameIsRefusedByBoth() {
        for name in ["lightgnc", "SASRec", "", "emorec "] {
            XCTAssertFalse(ModelFactory.isKnown(name), name)
            XCTAssertThrowsError(try ModelFactory.make(name, train: tinyTrainingSet(), settings: EmbeddingSettings()), name) { error in
                XCTAssertTrue("\(error)".contains("unknown model '\(name)'"), "\(error)")
            }
        }
    }
}
