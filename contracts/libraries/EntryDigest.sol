// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title EntryDigest
/// @notice The ledger-entry digest of DESIGN §4.4 (the paper's H2, Oksuz Tables 1–3), byte-identical
/// with `offchain/protocol/entry.ts`.
/// @dev `m = keccak256(domain ‖ u8 kind ‖ u32 j ‖ bytes32 id ‖ u64 T ‖ u64 value)` with
/// `domain = keccak256(u256 chainId ‖ address ledger)`, so an entry signed for one chain or one
/// deployment never verifies on another.
library EntryDigest {
    /// @dev Entry kinds (the paper's 00/01/10).
    uint8 internal constant KIND_OCD = 0;
    uint8 internal constant KIND_DAP = 1;
    uint8 internal constant KIND_BC = 2;

    /// @notice The deployment's domain separator.
    function domainSeparator(uint256 chainId, address ledger) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(chainId, ledger));
    }

    /// @notice The digest every ledger entry's Schnorr signature signs (85 bytes hashed).
    function digest(
        bytes32 domain,
        uint8 kind,
        uint32 interval,
        bytes32 id,
        uint64 timestamp,
        uint64 value
    ) internal pure returns (bytes32) {
        return keccak256(abi.encodePacked(domain, kind, interval, id, timestamp, value));
    }
}
