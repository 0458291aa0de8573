import Foundation
import TacitModels
import TacitServiceTestSupport
import Testing

@testable import TacitDaemon
@testable import TacitKafka

@Suite("Configuration")
struct ConfigurationTests {
    func error(_ toml: String) -> String? {
        do {
            _ = try TacitConfiguration.parse(toml, file: "configs/tacit.toml")
            return nil
        } catch {
            return error.description
        }
    }

    @Test func shippedConfigIsTheDefaults() throws {
        let path = repoRoot.appendingPathComponent("configs/tacit.toml").path
        let c = try TacitConfiguration.load(path: path)
        #expect(c == TacitConfiguration())
    }

    @Test func emptyFileGivesDefaults() throws {
        #expect(try TacitConfiguration.parse("", file: "x.toml") == TacitConfiguration())
    }

    @Test func valuesAreRead() throws {
        let c = try TacitConfiguration.parse(
            """
            [kafka]
            brokers = ["a:1", "b:2"]
            group_id = "g"
            [kafka.properties]
            "compression.type" = "lz4"
            "socket.keepalive.enable" = true
            "fetch.min.bytes" = 10
            [taxonomy]
            target = ["purchase"]
            auxiliary = ["view"]
            [store]
            synchronous = "normal"
            [publisher]
            top_k = 20
            [trainer]
            model = "sasrec"
            refit = false
            [trainer.sasrec]
            window_stride = 25
            """,
            file: "x.toml"
        )
        #expect(c.kafka.brokers == ["a:1", "b:2"] && c.kafka.groupID == "g")
        #expect(c.kafka.properties == ["compression.type": "lz4", "socket.keepalive.enable": "true", "fetch.min.bytes": "10"])
        #expect(c.taxonomy.target == ["purchase"] && c.store.synchronous == .normal && c.publisher.topK == 20)
        #expect(c.kafka.consumer.client.brokers == ["a:1", "b:2"])
        #expect(c.trainer.model == "sasrec" && c.trainer.sasrec.windowStride == 25 && !c.trainer.refit)
        #expect(TacitConfiguration().trainer.refit)
        #expect(try c.kafka.consumer.rdkafkaProperties().contains { $0 == ("fetch.wait.max.ms", "20") })
        let fast = try TacitConfiguration.parse("[kafka]\nfetch_wait_max_ms = 10", file: "x.toml")
        #expect(try fast.kafka.consumer.rdkafkaProperties().contains { $0 == ("fetch.wait.max.ms", "10") })
    }

    @Test func learningRateDefaultsPerModelUnlessSet() throws {
        func rate(_ text: String, model: ModelKind) throws -> Float {
            try TacitConfiguration.parse(text, file: "x.toml").trainer.settings(for: model).learningRate
        }
        #expect(try rate("", model: .lightgcn) == 0.01)
        #expect(try rate("", model: .bpr) == 0.001)
        #expect(try rate("", model: .sasrec) == 0.01)
        #expect(try rate("[trainer.bpr]\nlearning_rate = 0.02", model: .bpr) == 0.02)
        #expect(try rate("[trainer.lightgcn]\nlearning_rate = 1", model: .lightgcn) == 1)
        // Each model keeps its own: a section does not reach another model (tacit backtest --model).
        #expect(try rate("[trainer.lightgcn]\nlearning_rate = 1", model: .bpr) == 0.001)
        #expect(
            error("[trainer.bpr]\nlearning_rate = 0") == "configs/tacit.toml: trainer.bpr.learning_rate: expected a number in 1e-07...10.0, found 0.0"
        )
        #expect(
            error("[trainer.sine]\nlearning_rate = \"fast\"") == "configs/tacit.toml: trainer.sine.learning_rate: expected a number, found string"
        )
    }

    /// Every model's settings come from its own section, with the daemon's defaults where it is silent;
    /// `trainer.seed` seeds whichever is served.
    @Test func eachModelReadsItsOwnSection() throws {
        let c = try TacitConfiguration.parse(
            """
            [trainer]
            model = "hnt"
            seed = 7
            [trainer.hnt]
            dim = 32
            heads = 4
            mu = 0.5
            hesitation_every = 2
            average_layers = false
            ablation = "full"
            [trainer.sine]
            prototypes = 5
            ablation = "no-nf"
            max_length = 20
            [trainer.emorec]
            variant = "EmoGAT"
            sequences_per_step = 8
            [trainer.trending]
            half_life = 10000
            """,
            file: "x.toml"
        )
        guard case .hnt(let h)? = c.trainer.modelSettings else {
            Issue.record("not hnt: \(String(describing: c.trainer.modelSettings))")
            return
        }
        #expect(h.embedding.dim == 32 && h.heads == 4 && h.mu == 0.5 && h.embedding.seed == 7 && h.hesitationEvery == 2 && !h.averageLayers)
        #expect(TacitConfiguration().trainer.hnt.averageLayers && TacitConfiguration().trainer.hnt.hesitationEvery == 4)
        #expect(h.transfer && h.negativeTransfer && h.contrastive)  // full, not the default hesitation-only
        #expect(!TacitConfiguration().trainer.hnt.transfer)
        #expect(c.trainer.sine.prototypes == 5 && c.trainer.sine.ablation == .noNegativeFeedback && c.trainer.sine.transformer.maxLength == 20)
        #expect(c.trainer.sine.transformer.innerSize == 64)  // SINE's feed-forward is d wide
        #expect(c.trainer.emorec.variant == .emoGAT && c.trainer.emorec.windowBatch == 8 && c.trainer.emorec.pairBatch == 8 * 50)
        #expect(c.trainer.trendHalfLife == 10_000)
        #expect(TacitConfiguration().trainer.modelSettings == .lightgcn(TacitConfiguration().trainer.lightgcn))
        var baseline = TacitConfiguration().trainer
        baseline.model = "trending"
        #expect(baseline.modelSettings == nil)
    }

    /// A key that `[trainer]` held before each model had its own section says where it went.
    @Test func aKeyThatMovedToAModelSectionSaysWhere() {
        #expect(
            error("[trainer]\nmodel = \"sine\"\ndim = 32")
                == "configs/tacit.toml: trainer.dim: moved to the section of the model it is for, e.g. [trainer.sine] dim = …"
        )
        #expect(
            error("[trainer]\nmodel = \"trending\"\nablation = \"full\"")
                == "configs/tacit.toml: trainer.ablation: moved to the section of the model it is for, e.g. [trainer.<model>] ablation = …"
        )
        #expect(
            error("[trainer]\ntrend_half_life = 3000") == "configs/tacit.toml: trainer.trend_half_life: moved to [trainer.trending] half_life = …"
        )
        #expect(error("[trainer.lightgcn]\nmu = 0.5") == "configs/tacit.toml: trainer.lightgcn.mu: unknown key")
        #expect(error("[trainer.bpr]\nlayers = 2") == "configs/tacit.toml: trainer.bpr.layers: unknown key")
        #expect(error("[trainer.word2vec]\ndim = 2") == "configs/tacit.toml: trainer.word2vec: unknown key")
    }

    @Test func errorsNameFileAndKey() {
        #expect(error("[kafka]\nbrokers = \"\"") == "configs/tacit.toml: kafka.brokers: expected a non-empty string")
        #expect(error("[kafka]\nbrokers = 5") == "configs/tacit.toml: kafka.brokers: expected a string, found integer")
        #expect(error("[kafka]\nbrokers = \"localhost\"") == "configs/tacit.toml: kafka.brokers: \"localhost\" is not host:port")
        #expect(error("[kafka]\nbrokrs = \"a:1\"") == "configs/tacit.toml: kafka.brokrs: unknown key")
        #expect(error("[kafak]\n") == "configs/tacit.toml: kafak: unknown key")
        #expect(error("[publisher]\ntop_k = 0") == "configs/tacit.toml: publisher.top_k: expected an integer in 1...10000, found 0")
        #expect(
            error("[publisher]\nreshow_boost = -1.0") == "configs/tacit.toml: publisher.reshow_boost: expected a number in 0.0...100.0, found -1.0"
        )
        #expect(
            error("[publisher]\nreshow_recent = 2000") == "configs/tacit.toml: publisher.reshow_recent: expected an integer in 0...1000, found 2000"
        )
        #expect(error("[store]\ncache_mb = 0") == "configs/tacit.toml: store.cache_mb: expected an integer in 1...1000000, found 0")
        #expect(
            error("[trainer]\nmax_users = -1") == "configs/tacit.toml: trainer.max_users: expected an integer in 0...1000000000, found -1"
        )
        #expect(
            error("[store]\nsynchronous = \"off\"") == "configs/tacit.toml: store.synchronous: expected one of \"normal\", \"full\", found \"off\""
        )
        #expect(error("[http]\nenabled = \"yes\"") == "configs/tacit.toml: http.enabled: expected true or false, found string")
        #expect(
            error("[kafka.properties]\n\"enable.auto.commit\" = true")?.hasPrefix(
                "configs/tacit.toml: kafka.properties.enable.auto.commit: managed by Tacit"
            ) == true
        )
        #expect(
            error("[kafka.properties]\nx = [1]")
                == "configs/tacit.toml: kafka.properties.x: expected a string, integer, boolean or number, found array"
        )
        #expect(
            error("[trainer.hnt]\nablation = \"no-such\"")
                == "configs/tacit.toml: trainer.hnt.ablation: unknown HNT variant \"no-such\": choose full, base, no-hesitation, no-negative-transfer, hesitation-only"
        )
        #expect(error("[trainer.hnt]\nheads = 3") == "configs/tacit.toml: trainer.hnt.heads: must divide trainer.hnt.dim (64)")
        #expect(
            error("[trainer.hnt]\nhesitation_every = 0")
                == "configs/tacit.toml: trainer.hnt.hesitation_every: expected an integer in 1...1000, found 0"
        )
        #expect(
            error("[trainer.sasrec]\nwindow_stride = 60")
                == "configs/tacit.toml: trainer.sasrec.window_stride: must be at most trainer.sasrec.max_length (50); 0 means max_length"
        )
        #expect(error("[trainer]\nrefit = 1") == "configs/tacit.toml: trainer.refit: expected true or false, found integer")
        #expect(
            error("[service]\nrole = \"leader\"")
                == "configs/tacit.toml: service.role: expected one of \"all\", \"serve\", \"train\", found \"leader\""
        )
        #expect(
            error("[trainer]\nmodel = \"trending\"\n[service]\nrole = \"train\"")
                == "configs/tacit.toml: service.role: \"train\" needs trainer.enabled and a learned trainer.model (found \"trending\")"
        )
        #expect(
            error("[kafka]\nmodels_topic = \"tacit.feedback\"")
                == "configs/tacit.toml: kafka.input_topics: \"tacit.feedback\" is also an output topic"
        )
        #expect(
            error("[trainer.sine]\nwindow_stride = -1")
                == "configs/tacit.toml: trainer.sine.window_stride: expected an integer in 0...10000, found -1"
        )
        #expect(
            error("[trainer.sasrec]\nloss = \"hinge\"") == "configs/tacit.toml: trainer.sasrec.loss: expected one of \"ce\", \"bpr\", found \"hinge\""
        )
        #expect(
            error("[trainer]\nmodel = \"bert4rec\"")?.hasPrefix(
                "configs/tacit.toml: trainer.model: unknown model \"bert4rec\": choose popularity, trending, bpr"
            ) == true
        )
        #expect(error("[taxonomy]\ntarget = []") == "configs/tacit.toml: taxonomy.target: expected at least one element")
        #expect(error("[taxonomy]\nauxiliary = [\"buy\"]") == "configs/tacit.toml: taxonomy.auxiliary: \"buy\" is already listed in taxonomy.target")
        #expect(error("[taxonomy]\nwatch = [\"w\", \"w\"]") == "configs/tacit.toml: taxonomy.watch: duplicate elements")
        #expect(
            error("[events]\nearliest_timestamp = \"2000\"")?.hasPrefix("configs/tacit.toml: events.earliest_timestamp: expected an RFC 3339") == true
        )
        #expect(
            error("[kafka]\nheartbeat_interval_ms = 20000")
                == "configs/tacit.toml: kafka.heartbeat_interval_ms: must be less than session_timeout_ms (10000)"
        )
        #expect(
            error("[kafka]\ninput_topics = [\"tacit.deadletter\"]")
                == "configs/tacit.toml: kafka.input_topics: \"tacit.deadletter\" is also an output topic"
        )
        #expect(error("[service]\nlog_level = \"loud\"")?.hasPrefix("configs/tacit.toml: service.log_level: expected one of") == true)
        #expect(error("kafka = 3") == "configs/tacit.toml: kafka: expected a table, found integer")
        #expect(error("[kafka.properties]\n\"fetch.wait.max.ms\" = 10")?.contains("kafka.properties.fetch.wait.max.ms: managed by Tacit") == true)
        #expect(error("[kafka]\nfetch_wait_max_ms = 0")?.hasPrefix("configs/tacit.toml: kafka.fetch_wait_max_ms:") == true)
    }

    @Test func syntaxErrorsNameTheLine() {
        let e = error("[kafka]\nbrokers = \"a:1\n")
        #expect(e?.hasPrefix("configs/tacit.toml: line 2, column") == true, "\(e ?? "nil")")
    }

    @Test func missingFileIsNamed() {
        #expect(throws: ConfigurationError.self) { try TacitConfiguration.load(path: "/nonexistent/tacit.toml") }
    }
}
