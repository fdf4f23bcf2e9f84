// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title RoundConfig
/// @notice Layout of the ledger's round-config blob ({CodeStore}): everything `commitBlock` reads
/// besides its own storage, in ONE code blob, so a round pays one cold EXTCODECOPY (2 600 gas)
/// instead of a registry call and its cold slots (docs/CONSENSUS.md "Gas").
/// ```
/// [0, 128)            S_g, the gateway key (EIP-2537 G1)
/// -- the members part, written by the reputation registry on every membership change --
/// [128, 256)          Σ of all node keys (EIP-2537 G1; the identity for no nodes)
/// [256, 258)          M, u16 big-endian
/// [258, 318)          the registry's key-table chunks, 3 × 20-byte addresses (zero if unused)
/// [318, 322)          the membership epoch, u32 big-endian (bound into every block digest)
/// [322, 322 + 20·M)   node j's account at 322 + 20·j
/// -- the trailer, written by the ledger --
/// [322 + 20·M, +4)    the minimum of counted reporters, u32 big-endian (`minReporters()`)
/// ```
/// In gateway-only mode (no registry bound) the blob is the gateway key and the trailer (the
/// minimum at [128, 132)).
library RoundConfig {
    uint256 internal constant GATEWAY_KEY = 0;
    uint256 internal constant MEMBERS = 128;
    uint256 internal constant AGGREGATE_KEY = 128;
    uint256 internal constant NODE_COUNT = 256;
    uint256 internal constant KEY_TABLES = 258;
    uint256 internal constant EPOCH = 318;
    uint256 internal constant ACCOUNTS = 322;
    /// @dev Bytes of the fixed header (gateway key to the membership epoch).
    uint256 internal constant HEADER_LENGTH = 322;
    /// @dev Bytes of the trailer (the u32 minimum of counted reporters after the members part).
    uint256 internal constant MIN_REPORTERS_LENGTH = 4;
    /// @dev Key-table chunks (registry: 128 entries of 128 bytes each, entry 0 the aggregate).
    uint256 internal constant KEY_TABLE_CHUNKS = 3;
    uint256 internal constant CHUNK_ENTRIES = 128;
}
