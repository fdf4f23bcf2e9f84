// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title SignerBitmap
/// @notice Bitmap arithmetic of quorum certificates (docs/CONSENSUS.md "Certificate"): bit j set iff
/// node j signed; M ≤ 256 nodes, so one word. Constant-gas forms of what a per-bit loop would cost
/// ~30 gas per node for (fuzzed against naive loops in test/consensus/SignerBitmap.t.sol).
library SignerBitmap {
    uint256 private constant M1 =
        0x5555555555555555555555555555555555555555555555555555555555555555;
    uint256 private constant M2 =
        0x3333333333333333333333333333333333333333333333333333333333333333;
    uint256 private constant M4 =
        0x0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f;
    uint256 private constant M8 =
        0x00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff00ff;
    uint256 private constant H16 =
        0x0001000100010001000100010001000100010001000100010001000100010001;

    /// @notice Number of set bits (SWAR). 16-bit lanes at the end, so 256 set bits do not overflow.
    function popcount(uint256 x) internal pure returns (uint256 count) {
        assembly ("memory-safe") {
            x := sub(x, and(shr(1, x), M1))
            x := add(and(x, M2), and(shr(2, x), M2))
            x := and(add(x, shr(4, x)), M4)
            // Each 16-bit lane now holds ≤ 16; the multiply sums all 16 lanes into the top lane
            // (≤ 256 < 2^16, and no lower partial sum carries into the next lane).
            x := and(add(x, shr(8, x)), M8)
            count := shr(240, mul(x, H16))
        }
    }

    /// @notice Bits of `signers` at or above `m` (names of nodes that do not exist).
    function outside(uint256 signers, uint256 m) internal pure returns (bool) {
        return m < 256 && signers >> m != 0;
    }

    /// @notice The non-signers among nodes 0…m−1: the complement of `signers` below bit m.
    function missing(uint256 signers, uint256 m) internal pure returns (uint256) {
        // For m = 256 the mask is all ones; (1 << m) − 1 would be 0 − 1.
        uint256 mask = m >= 256 ? type(uint256).max : (uint256(1) << m) - 1;
        return ~signers & mask;
    }

    /// @notice f = ⌊(M − 1)/3⌋ (0 for M = 0).
    function faultTolerance(uint256 m) internal pure returns (uint256) {
        return m == 0 ? 0 : (m - 1) / 3;
    }

    /// @notice ⌊(M + f)/2⌋ + 1 (2f + 1 for M = 3f + 1): any two quorums share ≥ f + 1 nodes; 1 for
    /// M = 0.
    function quorum(uint256 m) internal pure returns (uint256) {
        return (m + faultTolerance(m)) / 2 + 1;
    }
}
