// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TestBase} from "../helpers/TestBase.sol";
import {SignerBitmap} from "../../contracts/consensus/SignerBitmap.sol";
import {ReputationVector} from "../../contracts/consensus/ReputationVector.sol";

/// @notice Differential fuzz tests of the constant-gas bitmap and vector arithmetic used on every
/// BBNP round (signer count, non-signers, quorum, ΣΓ and the validator rule) against naive per-bit
/// and per-node loops.
contract SignerBitmapTest is TestBase {
    function _naivePopcount(uint256 x) private pure returns (uint256 c) {
        for (uint256 i = 0; i < 256; ++i) c += (x >> i) & 1;
    }

    function testFuzz_popcount_matchesNaive(uint256 x) public pure {
        assertEq(SignerBitmap.popcount(x), _naivePopcount(x), "popcount");
    }

    function test_popcount_edges() public pure {
        assertEq(SignerBitmap.popcount(0), 0, "zero");
        assertEq(SignerBitmap.popcount(type(uint256).max), 256, "all 256 bits");
        assertEq(SignerBitmap.popcount(1 << 255), 1, "top bit");
    }

    /// @dev Signers ∪ non-signers = nodes 0…m−1, disjoint; bits at or above m are "outside".
    function testFuzz_missing_partitionsTheNodes(uint256 signers, uint256 m) public pure {
        m = bound(m, 1, 256);
        uint256 missing = SignerBitmap.missing(signers, m);
        uint256 inside = m == 256 ? signers : signers & ((uint256(1) << m) - 1);
        assertEq(missing & signers, 0, "disjoint");
        assertEq(SignerBitmap.popcount(missing) + SignerBitmap.popcount(inside), m, "cover");
        assertTrue(SignerBitmap.outside(signers, m) == (inside != signers), "outside");
        if (m < 256) assertEq(missing >> m, 0, "missing only below m");
    }

    /// @dev Quorum: 2f + 1 ≤ q ≤ M − f (f crashed nodes never block) and two quorums intersect in at
    /// least f + 1 nodes (so in an honest one).
    function testFuzz_quorum_intersectsInAnHonestNode(uint256 m) public pure {
        m = bound(m, 1, 256);
        uint256 f = SignerBitmap.faultTolerance(m);
        uint256 q = SignerBitmap.quorum(m);
        assertTrue(3 * f + 1 <= m, "f = floor((M - 1)/3)");
        assertTrue(q <= m - f, "live with f crashed");
        assertTrue(2 * q >= m + f + 1, "two quorums share f + 1");
        if (m == 3 * f + 1) assertEq(q, 2 * f + 1, "2f + 1 for M = 3f + 1");
    }

    // ---------------------------------------------------------------- reputation vector

    function _vector(bytes32 seed, uint256 m, uint256 mode) private pure returns (bytes memory v) {
        v = new bytes(4 * m);
        for (uint256 j = 0; j < m; ++j) {
            uint256 r = uint256(keccak256(abi.encode(seed, j)));
            uint256 value;
            if (mode == 0) value = r % (ReputationVector.ONE + 1);
            else if (mode == 1)
                value = ReputationVector.ONE - (r % 3); // near the top
            else if (mode == 2)
                value = r % 4; // near zero: ties, zero thresholds
            else value = r % 2 == 0 ? ReputationVector.ONE : 0;
            assembly ("memory-safe") {
                let p := add(add(v, 0x20), mul(j, 4))
                mstore(p, or(shl(224, value), shr(32, shl(32, mload(p)))))
            }
        }
    }

    /// @dev External so the vector is calldata, as in the registry (trailing calldata after the
    /// vector is garbage on purpose: the word-wise passes must mask it).
    function evaluate(
        bytes calldata reputations,
        uint256 m
    ) external pure returns (uint256 sum, uint256 bad, uint256 bitmap) {
        (sum, bad) = ReputationVector.total(reputations[:4 * m], m);
        if (bad == type(uint256).max) {
            bitmap = ReputationVector.atLeastMean(reputations[:4 * m], m, sum);
        }
    }

    function testFuzz_validatorRule_matchesPerNodeLoop(
        bytes32 seed,
        uint256 m,
        uint256 mode
    ) public view {
        m = bound(m, 1, 256);
        mode = bound(mode, 0, 3);
        bytes memory v = _vector(seed, m, mode);
        // Garbage after the vector (0xff…): must not leak into the sum or the bitmap.
        bytes memory withTail = abi.encodePacked(v, bytes32(type(uint256).max));
        (uint256 sum, uint256 bad, uint256 bitmap) = this.evaluate(withTail, m);
        uint256 naiveSum;
        for (uint256 j = 0; j < m; ++j) naiveSum += _at(v, j);
        assertEq(bad, type(uint256).max, "all in range");
        assertEq(sum, naiveSum, "sum");
        uint256 naive;
        for (uint256 j = 0; j < m; ++j) if (_at(v, j) * m >= naiveSum) naive |= uint256(1) << j;
        assertEq(bitmap, naive, "validator bitmap");
    }

    function testFuzz_total_findsTheFirstValueAboveOne(
        bytes32 seed,
        uint256 m,
        uint256 at_,
        uint256 excess
    ) public view {
        m = bound(m, 1, 256);
        at_ = bound(at_, 0, m - 1);
        excess = bound(excess, 1, type(uint32).max - ReputationVector.ONE);
        bytes memory v = _vector(seed, m, 0);
        uint256 value = ReputationVector.ONE + excess;
        assembly ("memory-safe") {
            let p := add(add(v, 0x20), mul(at_, 4))
            mstore(p, or(shl(224, value), shr(32, shl(32, mload(p)))))
        }
        (, uint256 bad, ) = this.evaluate(abi.encodePacked(v, bytes32(0)), m);
        assertEq(bad, at_, "first out-of-range index");
    }

    function _at(bytes memory v, uint256 j) private pure returns (uint256 value) {
        assembly ("memory-safe") {
            value := shr(224, mload(add(add(v, 0x20), mul(j, 4))))
        }
    }
}
