// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title SchnorrVerifier
/// @notice Verifies GridLedger's EVM-friendly Schnorr signatures over secp256k1 (DESIGN §4.3, the
/// EVM form of Oksuz 2020 Definition 5) with one `ecrecover`.
/// @dev A signature on a 32-byte message `m` under key `Z = z·G` is `(addr(R), y)` with
/// `c = keccak256(addr(R) ‖ Zc ‖ m) mod n` and `y = r + c·z mod n`, where `Zc` is the 33-byte
/// compressed key. Verification checks `addr(y·G − c·Z) == addr(R)`. `ecrecover(h, v, r, s)`
/// returns `addr(r⁻¹·(s·Q − h·G))` for the point `Q` with x-coordinate `r` and parity `v − 27`;
/// with `Q = Z`, `r = x(Z)`, `h = −y·x(Z)` and `s = −c·x(Z)` (mod n) that is `addr(y·G − c·Z)`.
/// A key whose x is not on the curve makes ecrecover return the zero address, which never equals
/// a non-zero `addr(R)`, so no separate on-curve check is needed.
library SchnorrVerifier {
    /// @dev The secp256k1 group order n.
    uint256 internal constant N =
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    /// @notice Raised by {verify} when a signature does not verify.
    error SchnorrVerifierInvalidSignature(uint8 pkPrefix, uint256 pkX, bytes32 message);

    /// @notice Non-reverting check of a signature (the library's `try` form).
    /// @param pkPrefix SEC1 prefix of the compressed key: 2 (even y) or 3 (odd y).
    /// @param pkX x-coordinate of the key.
    /// @param message 32-byte message (for ledger entries, the §4.4 entry digest).
    /// @param rAddr addr(R), the 20-byte commitment of the signature.
    /// @param y the response scalar.
    /// @return valid true iff the signature verifies; false for every malformed input.
    function tryVerify(
        uint8 pkPrefix,
        uint256 pkX,
        bytes32 message,
        address rAddr,
        uint256 y
    ) internal pure returns (bool valid) {
        // Reject malformed inputs (DESIGN §4.3): y in (0, n), x(Z) in (0, n), prefix 2 or 3.
        // The zero rAddr is refused because ecrecover's failure value is the zero address.
        if (y == 0 || y >= N || pkX == 0 || pkX >= N || rAddr == address(0)) return false;
        if (pkPrefix != 2 && pkPrefix != 3) return false;
        uint256 c;
        // Memory-safe: writes only scratch memory past the free-memory pointer, never reserved.
        assembly ("memory-safe") {
            // keccak256(rAddr ‖ prefix ‖ x ‖ m): 20 + 1 + 32 + 32 = 85 bytes packed by hand
            // (abi.encodePacked would build and copy a fresh bytes array first).
            let ptr := mload(0x40)
            mstore(ptr, shl(96, rAddr))
            mstore8(add(ptr, 20), pkPrefix)
            mstore(add(ptr, 21), pkX)
            mstore(add(ptr, 53), message)
            c := mod(keccak256(ptr, 85), N)
        }
        // s = n − c·x mod n must be in [1, n−1]; c·x ≡ 0 only if c = 0 (probability 2^-256).
        uint256 cx = mulmod(c, pkX, N);
        if (cx == 0) return false;
        // h = n − y·x mod n; y·x ≢ 0 since both are non-zero below the prime n.
        // `unchecked`: y·x mod n < n and 0 < cx < n, so neither subtraction underflows.
        bytes32 h;
        bytes32 s;
        unchecked {
            h = bytes32(N - mulmod(y, pkX, N));
            s = bytes32(N - cx);
        }
        // v = 27 for prefix 2 (even y), 28 for prefix 3 (odd y).
        return ecrecover(h, pkPrefix + 25, bytes32(pkX), s) == rAddr;
    }

    /// @notice Reverting form of {tryVerify}.
    function verify(
        uint8 pkPrefix,
        uint256 pkX,
        bytes32 message,
        address rAddr,
        uint256 y
    ) internal pure {
        if (!tryVerify(pkPrefix, pkX, message, rAddr, y)) {
            revert SchnorrVerifierInvalidSignature(pkPrefix, pkX, message);
        }
    }
}
