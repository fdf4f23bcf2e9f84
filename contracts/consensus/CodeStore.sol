// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title CodeStore
/// @notice Immutable byte blobs stored as contract code ("SSTORE2"): writing costs a CREATE (32 000 +
/// 200 gas per byte), reading any slice costs one EXTCODECOPY (2 600 cold, 100 warm, + 3 gas per
/// word) instead of one 2 100-gas SLOAD per 32 bytes. Used for keys read on every BBNP round (the
/// gateway key, the consensus nodes' key table; docs/CONSENSUS.md "Gas").
/// @dev The deployed code is `0x00 ‖ data`: the leading STOP makes the blob non-executable.
library CodeStore {
    /// @notice The CREATE of a blob failed (out of gas, or data above the EIP-170 code-size limit).
    error CodeStoreWriteFailed(uint256 length);

    /// @notice Deploys `data` as the code of a new contract and returns its address.
    function write(bytes memory data) internal returns (address pointer) {
        // Init code (12 bytes): PUSH2 n, DUP1, PUSH1 12, PUSH1 0, CODECOPY, PUSH1 0, RETURN, where
        // n = 1 + data.length is the size of the runtime code that follows it (0x00 ‖ data).
        bytes memory init = abi.encodePacked(
            hex"61",
            uint16(data.length + 1),
            hex"80600c6000396000f3",
            hex"00",
            data
        );
        assembly ("memory-safe") {
            pointer := create(0, add(init, 0x20), mload(init))
        }
        if (pointer == address(0)) revert CodeStoreWriteFailed(data.length);
    }

    /// @notice `length` bytes of the blob at `pointer` from byte `start` (zeros past its end).
    function read(
        address pointer,
        uint256 start,
        uint256 length
    ) internal view returns (bytes memory out) {
        out = new bytes(length);
        assembly ("memory-safe") {
            extcodecopy(pointer, add(out, 0x20), add(start, 1), length)
        }
    }
}
