// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IReputationRegistry} from "../interfaces/IReputationRegistry.sol";
import {SignerBitmap} from "./SignerBitmap.sol";

/// @title ReputationVector
/// @notice The packed reputation vector (one u32 per node, units of 1e-9, big-endian) and the
/// validator rule of getValidators (Γ_j·M ≥ ΣΓ), evaluated eight nodes per 32-byte word (SWAR), so
/// a round pays ~13 word steps for M = 100 instead of 200 per-node loop iterations. Fuzzed against
/// the per-node rule in test/consensus/SignerBitmap.t.sol ("reputation vector" section).
library ReputationVector {
    /// @dev 1.0 in packed units.
    uint256 internal constant ONE = 1e9;
    /// @dev Bytes per node.
    uint256 internal constant BYTES = 4;
    uint256 private constant LANE_LOW =
        0x00000000ffffffff00000000ffffffff00000000ffffffff00000000ffffffff;
    uint256 private constant LANE_ONES =
        0x0000000100000001000000010000000100000001000000010000000100000001;
    uint256 private constant TOP2 =
        0xc0000000c0000000c0000000c0000000c0000000c0000000c0000000c0000000;
    uint256 private constant TOP1 =
        0x8000000080000000800000008000000080000000800000008000000080000000;
    /// @dev Σ_i 2^(231 − 33 i), i = 0…7: gathers bit 31 of lane k (value 7 − k of the word) to bit
    /// 231 − k, without collisions (docs/CONSENSUS.md "Gas").
    uint256 private constant GATHER = 0x8000000040000000200000001000000008000000040000000200000001;

    /// @notice Index of the first value above 1.0, or type(uint256).max if all are ≤ 1.0; and ΣΓ.
    /// `reputations` must be 4·m bytes (checked by the caller).
    function total(
        bytes calldata reputations,
        uint256 m
    ) internal pure returns (uint256 sum, uint256 bad) {
        bad = type(uint256).max;
        uint256 bytesLen = m * 4;
        uint256 ok = 1;
        assembly ("memory-safe") {
            let off := reputations.offset
            // Full words in a lean loop; the last, partial word (its lanes past the vector's end
            // zeroed: that calldata is not ours) once after it.
            let full := add(off, and(bytesLen, not(31)))
            let end := add(off, bytesLen)
            // Every lane ≤ 1e9: the top two bits clear (lane < 2^30), then lane + (2^31 − 1 − 1e9)
            // must leave bit 31 clear; no carry crosses a lane (< 2^30 + 2^31 < 2^32).
            let bias := mul(LANE_ONES, sub(sub(0x80000000, 1), ONE))
            let flagsW := 0
            let flagsB := 0
            let acc := 0
            for {
                let p := off
            } lt(p, full) {
                p := add(p, 32)
            } {
                let w := calldataload(p)
                flagsW := or(flagsW, w)
                flagsB := or(flagsB, add(w, bias))
                // Pairwise lane sums into four 64-bit lanes (each < 2^31 per word, < 2^39 total).
                acc := add(acc, add(and(w, LANE_LOW), and(shr(32, w), LANE_LOW)))
            }
            if lt(full, end) {
                let w := and(calldataload(full), not(shr(shl(3, sub(end, full)), not(0))))
                flagsW := or(flagsW, w)
                flagsB := or(flagsB, add(w, bias))
                acc := add(acc, add(and(w, LANE_LOW), and(shr(32, w), LANE_LOW)))
            }
            // OR-ed over all words: a value above 1.0 sets a lane's bit 30 or 31 of w or bit 31 of
            // w + bias. (A lane ≥ 2^30 may carry into the next lane's w + bias; the vector is then
            // refused anyway, and the slow path below names the first bad index exactly.)
            if or(and(flagsW, TOP2), and(flagsB, TOP1)) {
                ok := 0
            }
            sum := add(
                add(and(acc, 0xffffffffffffffff), and(shr(64, acc), 0xffffffffffffffff)),
                add(and(shr(128, acc), 0xffffffffffffffff), shr(192, acc))
            )
        }
        if (ok == 0) {
            sum = 0;
            for (uint256 j = 0; j < m; ++j) {
                if (at(reputations, j) > ONE) return (0, j);
            }
        }
    }

    /// @notice Bitmap of the nodes with Γ_j·M ≥ ΣΓ (all values ≤ 1.0, checked by {total}).
    function atLeastMean(
        bytes calldata reputations,
        uint256 m,
        uint256 sum
    ) internal pure returns (uint256 bitmap) {
        if (m == 0) return 0;
        // Γ_j·M ≥ ΣΓ ⟺ Γ_j ≥ ⌈ΣΓ / M⌉ for integer Γ_j; the threshold is ≤ 1e9 < 2^30.
        uint256 threshold = (sum + m - 1) / m;
        uint256 bytesLen = m * 4;
        assembly ("memory-safe") {
            let off := reputations.offset
            let full := add(off, and(bytesLen, not(31)))
            let end := add(off, bytesLen)
            // lane + (2^31 − threshold) has bit 31 set iff lane ≥ threshold (lane < 2^30: no carry).
            let bias := mul(LANE_ONES, sub(0x80000000, threshold))
            // Bit b of the gathered byte is value (i/4 + b) of the vector, i the word's offset.
            for {
                let p := off
            } lt(p, full) {
                p := add(p, 32)
            } {
                let flags := shr(31, and(add(calldataload(p), bias), TOP1))
                bitmap := or(
                    bitmap,
                    shl(shr(2, sub(p, off)), and(shr(224, mul(flags, GATHER)), 0xff))
                )
            }
            // The last, partial word: lanes past the end zeroed (calldata there is not ours, and a
            // large garbage lane would carry into the real lane above it).
            if lt(full, end) {
                let w := and(calldataload(full), not(shr(shl(3, sub(end, full)), not(0))))
                let flags := shr(31, and(add(w, bias), TOP1))
                bitmap := or(
                    bitmap,
                    shl(shr(2, sub(full, off)), and(shr(224, mul(flags, GATHER)), 0xff))
                )
            }
        }
        // Zeroed lanes past the end may pass a zero threshold: keep bits below m only.
        if (m < 256) bitmap &= (uint256(1) << m) - 1;
    }

    /// @dev Besu QBFT needs at least 4 validators to tolerate one fault.
    uint256 internal constant MIN_VALIDATORS = 4;

    /// @notice The validator bitmap of getValidators: Γ_j·M ≥ ΣΓ, then filled by highest Γ (ties:
    /// lower index) up to min(4, M). Reverts {IReputationRegistry.ReputationRegistryReputationOutOfRange}
    /// if a value exceeds 1e9 (1.0). Hot path of every round: two word-wise passes over the calldata
    /// vector; the fill-up (rare: fewer than 4 nodes at or above the mean) uses {validatorsFromValues}.
    /// `reputations` must be 4·m bytes (checked by the caller).
    function validators(bytes calldata reputations, uint256 m) internal pure returns (uint256) {
        (uint256 sum, uint256 bad) = total(reputations, m);
        if (bad != type(uint256).max) {
            revert IReputationRegistry.ReputationRegistryReputationOutOfRange(
                bad,
                at(reputations, bad)
            );
        }
        uint256 bitmap = atLeastMean(reputations, m, sum);
        if (SignerBitmap.popcount(bitmap) >= (m < MIN_VALIDATORS ? m : MIN_VALIDATORS)) {
            return bitmap;
        }
        uint256[] memory values = new uint256[](m);
        for (uint256 j = 0; j < m; ++j) values[j] = at(reputations, j);
        return validatorsFromValues(values);
    }

    /// @notice {validators} of an unpacked vector (values in packed units, 1e9 = 1.0).
    function validatorsFromValues(uint256[] memory values) internal pure returns (uint256 bitmap) {
        uint256 m = values.length;
        uint256 sum;
        for (uint256 j = 0; j < m; ++j) {
            if (values[j] > ONE) {
                revert IReputationRegistry.ReputationRegistryReputationOutOfRange(j, values[j]);
            }
            sum += values[j];
        }
        uint256 count;
        for (uint256 j = 0; j < m; ++j) {
            if (values[j] * m >= sum) {
                bitmap |= 1 << j;
                ++count;
            }
        }
        uint256 target = m < MIN_VALIDATORS ? m : MIN_VALIDATORS;
        while (count < target) {
            uint256 best = type(uint256).max;
            for (uint256 j = 0; j < m; ++j) {
                if ((bitmap >> j) & 1 == 1) continue;
                if (best == type(uint256).max || values[j] > values[best]) best = j;
            }
            bitmap |= 1 << best;
            ++count;
        }
    }

    /// @notice Γ_j (u32 big-endian at 4·j).
    function at(bytes calldata reputations, uint256 j) internal pure returns (uint256 value) {
        assembly ("memory-safe") {
            value := shr(224, calldataload(add(reputations.offset, mul(j, 4))))
        }
    }
}
