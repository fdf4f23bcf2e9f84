// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {BLS12381} from "../libraries/BLS12381.sol";

/// @notice Exposes {BLS12381} to tests and the gas benchmark. Not deployed in production.
contract BLSHarness {
    function expandMessageXmd(
        bytes calldata message,
        bytes calldata dst
    ) external view returns (bytes memory) {
        return BLS12381.expandMessageXmd(message, dst);
    }

    function hashToFieldFp2(
        bytes calldata message,
        bytes calldata dst
    ) external view returns (bytes memory) {
        return BLS12381.hashToFieldFp2(message, dst);
    }

    function hashToG2(
        bytes calldata message,
        bytes calldata dst
    ) external view returns (bytes memory) {
        return BLS12381.hashToG2(message, dst);
    }

    function verify(
        bytes calldata pk,
        bytes calldata message,
        bytes calldata sig
    ) external view returns (bool) {
        return BLS12381.verify(pk, message, sig);
    }

    function tryVerify(
        bytes calldata pk,
        bytes calldata message,
        bytes calldata sig
    ) external view returns (bool) {
        return BLS12381.tryVerify(pk, message, sig);
    }

    function verifyAggregateSameMessage(
        bytes[] calldata pks,
        bytes calldata message,
        bytes calldata aggSig
    ) external view returns (bool) {
        return BLS12381.verifyAggregateSameMessage(pks, message, aggSig);
    }

    function tryVerifyAggregateSameMessage(
        bytes[] calldata pks,
        bytes calldata message,
        bytes calldata aggSig
    ) external view returns (bool) {
        return BLS12381.tryVerifyAggregateSameMessage(pks, message, aggSig);
    }

    function verifyPossession(bytes calldata pk, bytes calldata pop) external view returns (bool) {
        return BLS12381.verifyPossession(pk, pop);
    }

    function tryVerifyPossession(
        bytes calldata pk,
        bytes calldata pop
    ) external view returns (bool) {
        return BLS12381.tryVerifyPossession(pk, pop);
    }

    function compressG1(bytes calldata pk) external pure returns (bytes memory) {
        return BLS12381.compressG1(pk);
    }

    function compressG2(bytes calldata point) external pure returns (bytes memory) {
        return BLS12381.compressG2(point);
    }

    /// @notice Gas of one {BLS12381.tryVerify}, measured with gasleft() inside the call: hash-to-G2
    /// and the pairing check, without calldata, call overhead or ABI decoding of the arguments.
    function verifyGas(
        bytes calldata pk,
        bytes calldata message,
        bytes calldata sig
    ) external view returns (bool valid, uint256 gasUsed) {
        bytes memory pkMem = pk;
        bytes memory msgMem = message;
        bytes memory sigMem = sig;
        uint256 before = gasleft();
        valid = BLS12381.tryVerify(pkMem, msgMem, sigMem);
        gasUsed = before - gasleft();
    }

    /// @notice Gas of one {BLS12381.hashToG2} under the signature DST, measured like {verifyGas}.
    function hashToG2Gas(bytes calldata message) external view returns (uint256 gasUsed) {
        bytes memory msgMem = message;
        uint256 before = gasleft();
        BLS12381.hashToG2(msgMem, BLS12381.DST_SIG);
        gasUsed = before - gasleft();
    }
}
