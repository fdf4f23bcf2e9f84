// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {EntryDigest} from "../libraries/EntryDigest.sol";
import {SchnorrVerifier} from "../libraries/SchnorrVerifier.sol";

/// @notice Exposes the crypto libraries to tests and the gas benchmark. Not deployed in production.
contract CryptoHarness {
    function tryVerify(
        uint8 pkPrefix,
        uint256 pkX,
        bytes32 message,
        address rAddr,
        uint256 y
    ) external pure returns (bool) {
        return SchnorrVerifier.tryVerify(pkPrefix, pkX, message, rAddr, y);
    }

    function verify(
        uint8 pkPrefix,
        uint256 pkX,
        bytes32 message,
        address rAddr,
        uint256 y
    ) external pure {
        SchnorrVerifier.verify(pkPrefix, pkX, message, rAddr, y);
    }

    error CryptoHarnessLengthMismatch();

    /// @notice {tryVerify} over arrays (differential tests verify hundreds of signatures per call).
    function tryVerifyBatch(
        uint8[] calldata pkPrefixes,
        uint256[] calldata pkXs,
        bytes32[] calldata messages,
        address[] calldata rAddrs,
        uint256[] calldata ys
    ) external pure returns (bool[] memory valid) {
        uint256 len = pkPrefixes.length;
        if (
            pkXs.length != len || messages.length != len || rAddrs.length != len || ys.length != len
        ) revert CryptoHarnessLengthMismatch();
        valid = new bool[](len);
        for (uint256 i; i < len; ++i) {
            valid[i] = SchnorrVerifier.tryVerify(
                pkPrefixes[i],
                pkXs[i],
                messages[i],
                rAddrs[i],
                ys[i]
            );
        }
    }

    /// @notice Gas of one verification, measured inside the call (no calldata or call overhead).
    function verifyGas(
        uint8 pkPrefix,
        uint256 pkX,
        bytes32 message,
        address rAddr,
        uint256 y
    ) external view returns (bool valid, uint256 gasUsed) {
        uint256 before = gasleft();
        valid = SchnorrVerifier.tryVerify(pkPrefix, pkX, message, rAddr, y);
        gasUsed = before - gasleft();
    }

    function domainSeparator(uint256 chainId, address ledger) external pure returns (bytes32) {
        return EntryDigest.domainSeparator(chainId, ledger);
    }

    function entryDigest(
        bytes32 domain,
        uint8 kind,
        uint32 interval,
        bytes32 id,
        uint64 timestamp,
        uint64 value
    ) external pure returns (bytes32) {
        return EntryDigest.digest(domain, kind, interval, id, timestamp, value);
    }
}
