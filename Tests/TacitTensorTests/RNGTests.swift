import TacitTestSupport
import XCTest

@testable import TacitTensor

/// SeededRNG: reproducibility, the exact xoshiro256** stream, ranges and distributions.
final class RNGTests: XCTestCase {
    /// The first outputs for seeds 0 and 42, from an independent SplitMix64 + xoshiro256** implementation.
    /// Changing the generator (and with it every seeded training run) must be a deliberate act.
    func testKnownStream() {
        var r0 = SeededRNG(seed: 0)
        XCTAssertEqual(
            (0..<5).map { _ in r0.next() },
            [
                0x99EC_5F36_CB75_F2B4, 0xBF6E_1F78_4956_452A, 0x1A5F_849D_4933_E6E0,
                0x6AA5_94F1_262D_2D2C, 0xBBA5_AD4A_1F84_2E59,
            ]
        )
        var r42 = SeededRNG(seed: 42)
        XCTAssertEqual(
            (0..<5).map { _ in r42.next() },
            [
                0x1578_0B2E_0C2E_C716, 0x6104_D986_6D11_3A7E, 0xAE17_5332_39E4_99A1,
                0xECB8_AD47_03B3_60A1, 0xFDE6_DC7F_E2EC_5E64,
            ]
        )
    }

    /// Same seed → same stream over every draw kind; different seed → different stream.
    func testSameSeedSameStream() {
        var a = SeededRNG(seed: 123), b = SeededRNG(seed: 123), c = SeededRNG(seed: 124)
        var differs = false
        for i in 0..<1000 {
            switch i % 4 {
            case 0:
                let x = a.next()
                XCTAssertEqual(x, b.next())
                differs = differs || x != c.next()
            case 1:
                XCTAssertEqual(a.nextFloat(), b.nextFloat())
                _ = c.nextFloat()
            case 2:
                XCTAssertEqual(a.nextInt(below: 17), b.nextInt(below: 17))
                _ = c.nextInt(below: 17)
            default:
                XCTAssertEqual(a.nextNormal(), b.nextNormal())
                _ = c.nextNormal()
            }
        }
        XCTAssertTrue(differs)
    }

    /// A copy continues the same stream (value semantics), and a fork is a different, reproducible stream.
    func testCopyAndFork() {
        var a = SeededRNG(seed: 7)
        _ = a.next()
        var copy = a
        XCTAssertEqual((0..<10).map { _ in a.next() }, (0..<10).map { _ in copy.next() })
        var p1 = SeededRNG(seed: 8), p2 = SeededRNG(seed: 8)
        var f1 = p1.fork(), f2 = p2.fork()
        let forked = (0..<10).map { _ in f1.next() }
        XCTAssertEqual(forked, (0..<10).map { _ in f2.next() }, "fork is reproducible")
        XCTAssertNotEqual(forked, (0..<10).map { _ in p1.next() }, "fork differs from its parent's continuation")
    }

    /// nextInt(below:) stays in 0..<bound for small, odd and huge bounds, and reaches every value of a small range.
    func testNextIntRange() {
        var r = SeededRNG(seed: 99)
        for bound in [1, 2, 3, 7, 10, 1000, 1 << 40, Int.max] {
            for _ in 0..<2000 {
                let v = r.nextInt(below: bound)
                XCTAssertTrue(v >= 0 && v < bound, "\(v) not in 0..<\(bound)")
                if !(v >= 0 && v < bound) { return }
            }
        }
        var counts = [Int](repeating: 0, count: 10)
        for _ in 0..<50_000 { counts[r.nextInt(below: 10)] += 1 }
        // each bucket expects 5000; σ ≈ 67, so ±400 is a very loose bound
        for (k, c) in counts.enumerated() { XCTAssertEqual(Double(c), 5000, accuracy: 400, "bucket \(k)") }
    }

    /// nextFloat and nextDouble are in [0, 1) with mean ≈ ½.
    func testUniformRanges() {
        var r = SeededRNG(seed: 5)
        var sf = 0.0, sd = 0.0
        for _ in 0..<20_000 {
            let f = r.nextFloat(), d = r.nextDouble()
            XCTAssertTrue(f >= 0 && f < 1)
            XCTAssertTrue(d >= 0 && d < 1)
            sf += Double(f)
            sd += d
        }
        XCTAssertEqual(sf / 20_000, 0.5, accuracy: 0.01)
        XCTAssertEqual(sd / 20_000, 0.5, accuracy: 0.01)
    }

    /// nextNormal over 100k draws: mean ≈ 0, std ≈ 1, and the tails are about right (|z| > 2 ≈ 4.55%).
    func testNormalMoments() {
        var r = SeededRNG(seed: 2024)
        let n = 100_000
        var s = 0.0, s2 = 0.0, tail = 0
        for _ in 0..<n {
            let z = Double(r.nextNormal())
            XCTAssertTrue(z.isFinite)
            s += z
            s2 += z * z
            if abs(z) > 2 { tail += 1 }
        }
        let mean = s / Double(n), std = (s2 / Double(n) - mean * mean).squareRoot()
        XCTAssertEqual(mean, 0, accuracy: 0.02)
        XCTAssertEqual(std, 1, accuracy: 0.02)
        XCTAssertEqual(Double(tail) / Double(n), 0.0455, accuracy: 0.005)
    }

    /// shuffle is a permutation, reproducible per seed, and actually moves elements.
    func testShuffle() {
        var a = Array(0..<50), b = Array(0..<50)
        var r1 = SeededRNG(seed: 11), r2 = SeededRNG(seed: 11)
        r1.shuffle(&a)
        r2.shuffle(&b)
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.sorted(), Array(0..<50))
        XCTAssertNotEqual(a, Array(0..<50))
        var empty: [Int] = [], one = [1]
        r1.shuffle(&empty)
        r1.shuffle(&one)
        XCTAssertEqual(one, [1])
        // every position sees many values over repeated shuffles of a small array
        var firsts = Set<Int>()
        for _ in 0..<200 {
            var s = [0, 1, 2, 3]
            r1.shuffle(&s)
            firsts.insert(s[0])
        }
        XCTAssertEqual(firsts, [0, 1, 2, 3])
    }
}
