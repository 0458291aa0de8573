import Foundation
import Logging
import TacitData
import TacitKafka
import TacitServiceTestSupport
import TacitStore
import Testing

@testable import TacitDaemon

/// Models travel from a `train` instance to `serve` instances on the models topic: chunked, checksummed,
/// applied only whole, and laid out over each reader's own item ids.
@Suite("Models topic")
struct ModelTopicTests {
    static func snapshot(version: Int64 = 3, items: Int = 5) -> TravellingModel {
        let snapshot = ModelSnapshot(
            version: version,
            model: "lightgcn",
            createdMs: 1_700_000_000_000,
            metadata: ["format": "2", "settings": #"{"model":"lightgcn"}"#],
            metrics: ["ndcg@10": 0.25],
            tensors: [
                SnapshotTensor(name: "item_embedding", shape: [items, 4], values: (0..<(items * 4)).map { Float($0) * 0.5 - 3 }),
                SnapshotTensor(name: "item_degree", shape: [items], values: (0..<items).map { Float($0) }),
                SnapshotTensor(name: "empty", shape: [0, 4], values: []),
            ],
            userCount: 2,
            itemCount: items,
            eventsThroughSeq: 99,
            promoted: true
        )
        return TravellingModel(snapshot: snapshot, itemIDs: (0..<items).map { "item-\($0) \"ü\"" })
    }

    @Test func aSnapshotSurvivesTheCodecExactly() throws {
        let model = Self.snapshot()
        #expect(try SnapshotCodec.decode(try SnapshotCodec.encode(model)) == model)
        var bytes = try SnapshotCodec.encode(model)
        bytes.removeLast()
        #expect(throws: SnapshotCodec.DecodingFailure.self) { try SnapshotCodec.decode(bytes) }
        #expect(throws: SnapshotCodec.DecodingFailure.self) { try SnapshotCodec.decode(Array("TSN2".utf8) + bytes.dropFirst(4)) }
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)  // the standard check value
    }

    func messages(_ model: TravellingModel, chunkBytes: Int = 64) throws -> [(key: [UInt8]?, value: [UInt8])] {
        try ModelTopicMessages.records(for: model, topic: "m", chunkBytes: chunkBytes).map { ($0.key, $0.value) }
    }

    @Test func chunksThenTheManifestGiveTheModelAndFreeTheBuffers() throws {
        let model = Self.snapshot()
        let records = try messages(model)
        #expect(records.count > 3)
        var assembler = ModelTopicAssembler()
        for r in records.dropLast() { #expect(assembler.receive(key: r.key, value: r.value) == .pending) }
        // At least once: a chunk delivered twice changes nothing.
        #expect(assembler.receive(key: records[1].key, value: records[1].value) == .pending)
        #expect(assembler.receive(key: records.last!.key, value: records.last!.value) == .complete(model))
        #expect(assembler.chunks.isEmpty)
    }

    @Test func aTornOrAlteredSnapshotIsRefusedAndANewerOneStillArrives() throws {
        let records = try messages(Self.snapshot(version: 3))
        var torn = ModelTopicAssembler()
        for r in records.dropLast() where r.key != records[2].key { _ = torn.receive(key: r.key, value: r.value) }
        guard case .refused(_, 3, let reason) = torn.receive(key: records.last!.key, value: records.last!.value) else {
            Issue.record("a torn snapshot was not refused")
            return
        }
        #expect(reason.contains("chunk 2") && reason.contains("missing"))

        var altered = ModelTopicAssembler()
        for (n, r) in records.enumerated() {
            var value = r.value
            if n == 1 { value[5] ^= 0xFF }
            let outcome = altered.receive(key: r.key, value: value)
            if n == records.count - 1 { #expect(outcome == .refused(model: "lightgcn", version: 3, reason: "chunk 1 checksum mismatch")) }
        }
        // The reader goes on: the next version, interleaved with a stray chunk of a dead writer, arrives whole.
        let next = Self.snapshot(version: 4, items: 7)
        let nextRecords = try messages(next)
        _ = altered.receive(key: Array("lightgcn@9/0".utf8), value: [1, 2, 3])
        var outcome = ModelTopicAssembler.Outcome.pending
        for r in nextRecords { outcome = altered.receive(key: r.key, value: r.value) }
        #expect(outcome == .complete(next))
    }

    @Test func aBadManifestIsRefusedByName() throws {
        var assembler = ModelTopicAssembler()
        guard case .refused(let model, _, let reason) = assembler.receive(key: Array("lightgcn".utf8), value: Array("{".utf8)) else {
            Issue.record("garbage manifest accepted")
            return
        }
        #expect(model == "lightgcn" && reason.contains("does not decode"))
        var manifest = ModelManifest(model: "lightgcn", version: 1, createdMs: 0, eventsThroughSeq: 0, bytes: 0, crc32: 0, chunkCRC32: [])
        manifest.format = ModelManifest.format + 1
        let outcome = assembler.receive(key: Array("lightgcn".utf8), value: Array(try JSONEncoder().encode(manifest)))
        #expect(outcome == .refused(model: "lightgcn", version: 1, reason: "manifest format 2 is newer than this build reads"))
    }

    @Test func buffersAreBoundedWhenNoManifestComes() throws {
        var assembler = ModelTopicAssembler(maxBufferedBytes: 100)
        for v in 1...20 { _ = assembler.receive(key: Array("lightgcn@\(v)/0".utf8), value: [UInt8](repeating: 0, count: 40)) }
        #expect(assembler.chunks.count <= 3 && assembler.chunks["lightgcn@20"] != nil)
    }

    /// The whole path against the real broker: a trainer's promoted LightGCN goes out on the topic; a
    /// serving store that has seen other users, with other dense ids, installs it and lists each user's own
    /// cluster; a corrupt later version is refused and the served one stays.
    @Test(.enabled(if: TestBroker.isAvailable))
    func aPromotedModelReachesAServingInstanceWithOtherIDs() async throws {
        let broker = try TestBroker(partitions: 1, topics: ["tacit.models"])
        defer { broker.stop() }
        let trainerSide = TrainerFixture(), servingSide = TrainerFixture()
        let trainerStore = try trainerSide.openStore()
        _ = try trainerStore.apply(clusterRecords())
        let trained = try EmbeddingRecommender(model: "lightgcn", store: trainerStore, foldInWeight: 0.5, cacheCapacity: 100)
        let report = try await TrainerService(
            configuration: trainerConfig(),
            store: trainerStore,
            recommender: trained,
            metrics: nil,
            logger: Logger(label: "test")
        ).fineTune()
        guard case .promoted(let version) = report.outcome else {
            Issue.record("not promoted: \(report)")
            return
        }
        // The serving instance saw the b-users first and only some a-users: its dense ids differ.
        let servingStore = try servingSide.openStore()
        var servingRecords: [IngestRecord] = []
        for u in 0..<5 {
            for i in [1, 2, 4] {
                let e = event("b\(u)", "B\(i)", ts: 1_700_000_800_000 + Int64(servingRecords.count))
                servingRecords.append(rec(e, offset: Int64(servingRecords.count)))
            }
        }
        servingRecords.append(rec(event("newcomer", "A3", ts: 1_700_000_900_000), offset: Int64(servingRecords.count)))
        _ = try servingStore.apply(servingRecords)
        #expect(try servingStore.itemID("A3") != trainerStore.itemID("A3"))

        let metrics = DaemonMetrics()
        let logger = Logger(label: "test")
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(client: KafkaClientConfiguration(brokers: [broker.bootstrap])),
            logger: logger
        )
        let publisher = ModelTopicPublisher(
            store: trainerStore,
            recommender: trained,
            producer: producer,
            topic: "tacit.models",
            chunkBytes: 4_096,
            metrics: metrics,
            logger: logger
        )
        let publishing = Task { try await publisher.run() }
        let serving = try EmbeddingRecommender(model: "lightgcn", store: servingStore, foldInWeight: 0.5, cacheCapacity: 100)
        let reader = ModelTopicReader(
            consumer: fastConsumer(broker.bootstrap, group: "reader-\(UUID().uuidString)", topics: ["tacit.models"]),
            store: servingStore,
            recommender: serving,
            metrics: metrics,
            logger: logger
        )
        let reading = Task { try await reader.run() }
        defer {
            publishing.cancel()
            reading.cancel()
        }
        let deadline = ContinuousClock.now + .seconds(30)
        while serving.currentModel.version != version, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        #expect(serving.currentModel == ModelIdentity(name: "lightgcn", version: version))
        for (user, cluster) in [("newcomer", "A"), ("b3", "B")] {
            let id = try #require(try servingStore.userID(user))
            let list = try serving.recommend(user: id, k: 4, excluding: try servingStore.interactedItems(user: id).consumed)
            let names = try servingStore.itemExternalIDs(for: list?.items.map(\.item) ?? [])
            #expect(try share(list, servingStore, prefix: cluster) >= 0.75, "\(user): \(names)")
        }

        // A later version whose chunk is corrupted in transit is refused; the served model stays.
        var corrupt = try #require(try trainerStore.snapshot(version: version))
        corrupt.version = version + 10
        var records = try ModelTopicMessages.records(
            for: TravellingModel(snapshot: corrupt, itemIDs: Array(try trainerStore.itemExternalIDs().prefix(corrupt.itemCount))),
            topic: "tacit.models",
            chunkBytes: 4_096
        )
        records[0].value[100] ^= 0x55
        for result in await producer.sendAll(records) { _ = try result.get() }
        let refusedBy = ContinuousClock.now + .seconds(15)
        while metricValue(metrics, "tacit_models_refused_total") < 1, ContinuousClock.now < refusedBy {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(metricValue(metrics, "tacit_models_refused_total") == 1)
        #expect(serving.currentModel.version == version)
        #expect(metricValue(metrics, "tacit_models_published_total") == 1 && metricValue(metrics, "tacit_models_installed_total") == 1)
    }

    /// A sequential network laid out over a store with other ids scores a history of the same items
    /// exactly as it does where it was trained, item for item (by external id).
    @Test func aSequentialModelReadsAnotherStoresItemsThroughItsIDs() async throws {
        let trainerSide = TrainerFixture(), servingSide = TrainerFixture()
        let trainerStore = try trainerSide.openStore()
        _ = try trainerStore.apply(clusterRecords())
        var config = trainerConfig(model: "sine")
        config.epochs = 2
        let trained = try EmbeddingRecommender(model: "sine", store: trainerStore, foldInWeight: 0.5, cacheCapacity: 100)
        let report = try await TrainerService(
            configuration: config,
            store: trainerStore,
            recommender: trained,
            metrics: nil,
            logger: Logger(label: "test")
        )
        .fineTune()
        guard case .promoted(let version) = report.outcome else {
            Issue.record("not promoted: \(report)")
            return
        }
        let snapshot = try #require(try trainerStore.snapshot(version: version))
        let itemIDs = Array(try trainerStore.itemExternalIDs().prefix(snapshot.itemCount))

        let servingStore = try servingSide.openStore()
        _ = try servingStore.apply((0..<4).map { rec(event("b\($0)", "B\($0)", ts: 1_700_000_800_000 + Int64($0)), offset: Int64($0)) })
        let serving = try EmbeddingRecommender(model: "sine", store: servingStore, foldInWeight: 0.5, cacheCapacity: 100)
        let reader = ModelTopicReader(
            consumer: fastConsumer("127.0.0.1:9", group: "unused", topics: ["tacit.models"]),
            store: servingStore,
            recommender: serving,
            metrics: DaemonMetrics(),
            logger: Logger(label: "test")
        )
        reader.install(TravellingModel(snapshot: snapshot, itemIDs: itemIDs))
        #expect(serving.currentModel == ModelIdentity(name: "sine", version: version))
        #expect(try servingStore.itemID("A3") != trainerStore.itemID("A3"))

        let taken = ["A3", "B7", "A5", "A1"]
        let positive = UInt8(FeedbackKind.explicitPositive.rawValue)
        func history(_ store: EventStore) throws -> [Interaction] {
            try taken.enumerated().map { k, item in
                Interaction(user: 0, item: try #require(try store.itemID(item)), behavior: positive, timestamp: Int64(k))
            }
        }
        let trainedScorer = try #require(ServingEmbeddings(snapshot: snapshot)?.sequence)
        let servedScorer = try #require(serving.model?.sequence)
        let there = try #require(trainedScorer.scores(history: try history(trainerStore)))
        let here = try #require(servedScorer.scores(history: try history(servingStore)))
        for (row, item) in itemIDs.enumerated() {
            let local = try #require(try servingStore.itemID(item))
            #expect(here[Int(local)] == there[row], "\(item)")
        }
    }
}
