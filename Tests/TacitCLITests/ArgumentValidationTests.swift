import ArgumentParser
import TacitModels
import Testing

@testable import TacitCLI

/// The command line as a user types it: every bad value must be refused at parse time, before a
/// dataset is loaded, with a message naming the option; good values must reach the model's settings.
@Suite("Command-line arguments")
struct ArgumentValidationTests {
    /// The message `tacit` would print for these arguments, or nil if they parse.
    func refusal(_ arguments: [String]) -> String? {
        do {
            _ = try Tacit.parseAsRoot(arguments)
            return nil
        } catch {
            return Tacit.message(for: error)
        }
    }

    func evalOptions(_ arguments: [String]) throws -> EvalCommand {
        let command = try Tacit.parseAsRoot(["eval"] + arguments)
        return try #require(command as? EvalCommand)
    }

    // A negative value needs the `--option=-1` spelling; `--option -1` reads -1 as another option.
    @Test(arguments: [
        (["eval", "--model", "lightgnc"], "unknown model 'lightgnc'"),
        (["eval", "--protocol", "leave-last-5"], "unknown --protocol 'leave-last-5'"),
        (["eval", "--seed", "1,x"], "--seed: 'x' is not a number"),
        (["eval", "--seed", ","], "--seed needs at least one value"),
        (["eval", "--eval-every", "0"], "--eval-every must be ≥ 1"),
        (["eval", "--epochs=-1"], "--epochs and --patience must be ≥ 0"),
        (["eval", "--watch-positive", "1.5"], "--watch-positive must be in (0, 1]"),
        (["eval", "--dim", "0"], "--dim must be positive"),
        (["eval", "--lr", "0"], "--lr must be positive"),
        (["eval", "--l2=-1e-4"], "--l2 must be ≥ 0"),
        (["eval", "--threads=-2"], "--threads must be ≥ 0"),
        (["eval", "--model", "sasrec", "--heads", "3"], "--heads must be positive and divide --dim (64)"),
        (["eval", "--model", "sasrec", "--dropout", "1"], "--dropout and --graph-dropout must be in [0, 1)"),
        (["eval", "--model", "sasrec", "--window-stride", "0"], "--window-stride must be positive"),
        (["eval", "--model", "sasrec", "--loss", "mse"], "unknown --loss 'mse': choose ce or bpr"),
        (["eval", "--model", "sine", "--ablation", "w/o-xx"], "unknown --ablation 'w/o-xx' for sine"),
        (["eval", "--model", "hnt", "--tau", "0"], "--tau must be positive"),
        (["eval", "--model", "emorec", "--variant", "EmoSAGE"], "unknown --variant 'EmoSAGE': choose one of BaseGAT"),
        (["eval", "--model", "emorec", "--bpr-positives", "some"], "unknown --bpr-positives 'some'"),
        (["eval", "--model", "emorec", "--graph-dropout=-0.1"], "--dropout and --graph-dropout must be in [0, 1)"),
        (["eval", "--model", "emorec", "--decay", "0"], "a learnable --decay starts above 0"),
        (["bench", "--protocol", "nope"], "unknown --protocol 'nope'"),
        (["bench", "--runs=-1"], "--runs and --inference-users must be ≥ 0"),
        (["backtest", "--warmup", "1"], "--warmup must be in (0, 1)"),
        (["backtest", "--rounds", "0"], "--rounds must be ≥ 1"),
        (["backtest", "--refit", "maybe"], "--refit"),
        (["backtest", "--store", "/"], "--store /: already exists"),
        (["backtest", "--seed", "1,x"], "--seed: 'x' is not a number"),
    ])
    func badValueIsRefusedByName(arguments: [String], message: String) {
        let text = refusal(arguments)
        #expect(text?.contains(message) == true, "\(arguments): got \(text ?? "no error")")
    }

    @Test func aFixedDecayMayBeZero() {
        #expect(refusal(["eval", "--model", "emorec", "--decay", "0", "--no-learnable-decay"]) == nil)
    }

    @Test func oldModelSpellingsStillParse() {
        #expect(refusal(["eval", "--model", "pop"]) == nil)
        #expect(refusal(["eval", "--model", "bprmf"]) == nil)
    }

    @Test func emorecDefaultsAreThePapersBestVariant() throws {
        let eval = try evalOptions(["--model", "emorec"])
        let s = eval.modelOptions.emorecSettings(seed: 7)
        #expect(s.variant == .diffGATTHPExtraTask)
        #expect(s.loss == .bpr)
        #expect(s.graphLayers == 2)
        #expect(s.hawkes.transformer.dropout == 0.2)
        #expect(s.windowBatch == EmoRec.Settings().windowBatch)
        #expect(s.seed == 7)
    }

    @Test func emorecVariantNamesAreCaseInsensitive() throws {
        let eval = try evalOptions(["--model", "emorec", "--variant", "emosage-thp+USE_NEGATIVES", "--loss", "ce"])
        let s = eval.modelOptions.emorecSettings(seed: 1)
        #expect(s.variant == .emoSAGETHPNegatives)
        #expect(s.loss == .crossEntropy)
    }

    @Test func graphOnlyEmoRecTrainsOnPairs() throws {
        let eval = try evalOptions(["--model", "emorec", "--variant", "diffGAT"])
        #expect(eval.modelOptions.batchValue == EmoRec.Settings().pairBatch)
    }

    @Test func sequentialDefaultsFollowTheModel() throws {
        let sasrec = try evalOptions(["--model", "sasrec", "--protocol", "sequential", "--dropout", "0.2"])
        let s = sasrec.modelOptions.sasrecSettings(seed: 1)
        #expect(s.transformer.maxLength == 50 && s.transformer.heads == 2 && s.transformer.dropout == 0.2)
        #expect(s.loss == .crossEntropy && s.batchSize == 32 && s.windowStride == nil)

        let sine = try evalOptions(["--model", "sine", "--ablation", SINE.Ablation.allCases.last!.rawValue])
        let t = sine.modelOptions.sineSettings(seed: 1)
        #expect(t.transformer.dim == SINE.Settings().transformer.dim && t.transformer.heads == 1)
        #expect(t.ablation == SINE.Ablation.allCases.last!)
        #expect(t.batchSize == 128)
    }

    @Test func seedListsAreParsed() throws {
        #expect(try ArgumentValues.seeds("1, 2,3") == [1, 2, 3])
    }

    /// `--model` accepts exactly the names (and old spellings) it can build, each as the model it names.
    @Test(arguments: ModelOptions.names + ModelOptions.aliases.keys.sorted())
    func everyModelNameBuildsTheModelItNames(name: String) throws {
        let options = try evalOptions(["--model", name]).modelOptions
        let settings = try options.modelSettings(seed: 1)
        #expect(settings.name == ModelOptions.aliases[name] ?? name)
        #expect(settings.seed == (settings.kind == .popularity ? 0 : 1))
    }
}
