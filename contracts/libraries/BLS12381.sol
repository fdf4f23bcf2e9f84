// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title BLS12381
/// @notice BLS signature verification over BLS12-381 with the EIP-2537 precompiles (DESIGN §4.8),
/// byte-compatible with `offchain/crypto/bls.ts`: "min-pk" (public keys in G1, signatures in G2),
/// hash-to-G2 per RFC 9380 `BLS12381G2_XMD:SHA-256_SSWU_RO_` under GridLedger's DSTs.
/// @dev Encodings are EIP-2537's: an Fp element is 64 bytes big-endian whose first 16 bytes are
/// zero; a G1 point is `x ‖ y` (128 bytes); a G2 point `x.c0 ‖ x.c1 ‖ y.c0 ‖ y.c1` (256 bytes); the
/// identity is all zeros. Precompile calls forward the remaining gas bounded by
/// `PRECOMPILE_GAS_HEADROOM` times the Prague price of EIP-2537 (the EVM caps any call at 63/64 of
/// what is left), and every call's success flag is checked: a future repricing up to that factor
/// keeps the contracts working, while a malformed point (off the curve, outside the subgroup,
/// non-zero padding, coordinate ≥ p) still costs at most that bound in the `try` forms instead of
/// 63/64 of the remaining gas (a failing precompile consumes all gas it is given). The SHA-256 and
/// MSM calls forward `gas()` (their price depends on the input length).
library BLS12381 {
    /// @notice The signature DST (must equal `BLS_DST_SIG` of offchain/crypto/bls.ts).
    bytes internal constant DST_SIG = "GRIDLEDGER-V01-CS01-with-BLS12381G2_XMD:SHA-256_SSWU_RO_";
    /// @notice The proof-of-possession DST (must equal `BLS_DST_POP`).
    bytes internal constant DST_POP = "GRIDLEDGER-V01-POP-BLS12381G2_XMD:SHA-256_SSWU_RO_";

    /// @dev The group order r (scalars, BBNP sums).
    uint256 internal constant R =
        0x73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001;

    uint256 internal constant G1_POINT_LENGTH = 128;
    uint256 internal constant G2_POINT_LENGTH = 256;

    // EIP-2537 precompile addresses and their gas prices.
    address private constant G1ADD = address(0x0b);
    address private constant G2ADD = address(0x0d);
    address private constant PAIRING_CHECK = address(0x0f);
    address private constant MAP_FP2_TO_G2 = address(0x11);
    address private constant SHA256 = address(0x02);
    /// @notice Gas forwarded to a fixed-price precompile call, as a multiple of its Prague price.
    uint256 internal constant PRECOMPILE_GAS_HEADROOM = 4;
    // Prague prices × PRECOMPILE_GAS_HEADROOM, as literals (inline assembly takes only literal
    // constants): G1ADD 375, G2ADD 600, MAP_FP2_TO_G2 23,800, PAIRING 37,700 + 32,600 per pair.
    uint256 private constant G1ADD_GAS = 1_500;
    uint256 private constant G2ADD_GAS = 2_400;
    uint256 private constant MAP_FP2_TO_G2_GAS = 95_200;
    uint256 private constant PAIRING_BASE_GAS = 150_800;
    uint256 private constant PAIRING_PER_PAIR_GAS = 130_400;
    /// @notice Gas limits for callers that inline their own precompile calls (the ledger): G1ADD,
    /// G2ADD and a one-pair G1MSM (Prague: 375, 600, 12,000), times the headroom.
    uint256 internal constant G1ADD_GAS_LIMIT = 1_500;
    uint256 internal constant G2ADD_GAS_LIMIT = 2_400;
    uint256 internal constant G1MSM1_GAS_LIMIT = 48_000;

    // −g1 (the negated G1 generator), as two 32-byte words per coordinate: x = g1.x, y = p − g1.y.
    bytes32 private constant NEG_G1_X_HI =
        0x0000000000000000000000000000000017f1d3a73197d7942695638c4fa9ac0f;
    bytes32 private constant NEG_G1_X_LO =
        0xc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb;
    bytes32 private constant NEG_G1_Y_HI =
        0x00000000000000000000000000000000114d1d6855d545a8aa7d76c8cf2e21f2;
    bytes32 private constant NEG_G1_Y_LO =
        0x67816aef1db507c96655b9d5caac42364e6f38ba0ecb751bad54dcd6b939c2ca;

    // p as the two words of an EIP-2537 Fp element (high 16 bytes, low 32 bytes).
    uint256 private constant P_HI = 0x1a0111ea397fe69a4b1ba7b6434bacd7;
    uint256 private constant P_LO =
        0x64774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab;

    // μ = ⌊2^636 / p⌋ (Barrett constant of {modP512}; 256 bits).
    uint256 private constant MU =
        0x9d835d2f3cc9e45ce28101b0cc7a6ba291b82741ff6a0a94bdf4771e0286779d;

    // (p − 1) / 2, split as the two words of an EIP-2537 Fp element: y is "lexicographically
    // largest" (the sign flag of the ZCash compressed encoding) iff y > (p − 1) / 2.
    uint256 private constant HALF_P_HI = 0x0d0088f51cbff34d258dd3db21a5d66b;
    uint256 private constant HALF_P_LO =
        0xb23ba5c279c2895fb39869507b587b120f55ffff58a9ffffdcff7fffffffd555;

    /// @notice A point has the wrong length, is not on the curve or not in the prime-order subgroup,
    /// or is the identity where a key is expected.
    error BLS12381InvalidPoint();
    /// @notice A DST longer than 255 bytes (RFC 9380 §5.3.1 requires len(DST) ≤ 255).
    error BLS12381DstTooLong(uint256 length);
    /// @notice An empty key list was given to an aggregate verification.
    error BLS12381NoPublicKeys();
    /// @notice A precompile failed on inputs the library built itself (should never happen on a
    /// chain that implements EIP-2537).
    error BLS12381PrecompileFailed(address precompile);

    // ------------------------------------------------------------------ hash to curve (RFC 9380)

    /// @notice RFC 9380 §5.3.1 `expand_message_xmd` with SHA-256, 256 output bytes (what
    /// hash_to_field needs for two Fp2 elements with L = 64).
    function expandMessageXmd(
        bytes memory message,
        bytes memory dst
    ) internal view returns (bytes memory uniform) {
        if (dst.length > 255) revert BLS12381DstTooLong(dst.length);
        bytes memory dstPrime = abi.encodePacked(dst, uint8(dst.length));
        // b_0 = H(Z_pad ‖ msg ‖ I2OSP(256, 2) ‖ I2OSP(0, 1) ‖ DST_prime), Z_pad = 64 zero bytes.
        bytes32 b0 = _sha256(
            abi.encodePacked(bytes32(0), bytes32(0), message, uint16(256), uint8(0), dstPrime)
        );
        // b_1 = H(b_0 ‖ I2OSP(1, 1) ‖ DST_prime); b_i = H((b_0 XOR b_{i−1}) ‖ I2OSP(i, 1) ‖ DST_prime).
        bytes32 bi = _sha256(abi.encodePacked(b0, uint8(1), dstPrime));
        uniform = new bytes(256);
        assembly ("memory-safe") {
            mstore(add(uniform, 0x20), bi)
        }
        for (uint256 i = 2; i <= 8; ++i) {
            bi = _sha256(abi.encodePacked(b0 ^ bi, uint8(i), dstPrime));
            assembly ("memory-safe") {
                mstore(add(uniform, mul(i, 0x20)), bi)
            }
        }
    }

    /// @notice RFC 9380 `hash_to_field(msg, 2)` over Fp2: four 64-byte strings reduced mod p,
    /// returned as two EIP-2537 Fp2 elements `u0 ‖ u1` (256 bytes: u0.c0, u0.c1, u1.c0, u1.c1).
    function hashToFieldFp2(
        bytes memory message,
        bytes memory dst
    ) internal view returns (bytes memory fields) {
        bytes memory uniform = expandMessageXmd(message, dst);
        fields = new bytes(256);
        for (uint256 i = 0; i < 4; ++i) _reduceModP(uniform, i * 64, fields, i * 64);
    }

    /// @notice RFC 9380 `hash_to_curve` into G2: `clear_cofactor(map(u0) + map(u1))`, computed as
    /// `map(u0) + map(u1)` with EIP-2537's MAP_FP2_TO_G2 (which clears the cofactor of each image;
    /// clearing is a group homomorphism, so the sums agree). Returns 256 bytes.
    function hashToG2(
        bytes memory message,
        bytes memory dst
    ) internal view returns (bytes memory h) {
        if (dst.length > 255) revert BLS12381DstTooLong(dst.length);
        h = new bytes(256);
        uint256 out;
        uint256 msgPtr;
        uint256 dstPtr;
        assembly ("memory-safe") {
            out := add(h, 0x20)
            msgPtr := add(message, 0x20)
            dstPtr := add(dst, 0x20)
        }
        if (!_hashToG2At(msgPtr, message.length, dstPtr, dst.length, out)) {
            revert BLS12381PrecompileFailed(MAP_FP2_TO_G2);
        }
    }

    /// @dev hash_to_curve (RFC 9380, as {hashToG2}) of the `msgLen` bytes at `msgPtr` under the DST
    /// at `dstPtr` (`dstLen` ≤ 255, checked by callers), written as 256 bytes at `out`, in one
    /// pass: expand_message_xmd (9 SHA-256 calls), hash_to_field (4 reductions mod p, {modP512}),
    /// two MAP_FP2_TO_G2 and one G2ADD. No allocation: it works in the free memory above the free
    /// memory pointer (scratch, not kept), so `out` must be allocated memory.
    function _hashToG2At(
        uint256 msgPtr,
        uint256 msgLen,
        uint256 dstPtr,
        uint256 dstLen,
        uint256 out
    ) private view returns (bool ok) {
        uint256 scratch;
        assembly ("memory-safe") {
            scratch := mload(0x40)
            // fields (u0 ‖ u1, 256 bytes) | Q0 ‖ Q1 (512) | uniform bytes (256) | hash input
            let fields := scratch
            let q := add(scratch, 0x100)
            let uniform := add(scratch, 0x300)
            let buf := add(scratch, 0x400)
            // b_0 = H(Z_pad ‖ msg ‖ I2OSP(256, 2) ‖ I2OSP(0, 1) ‖ DST ‖ I2OSP(len(DST), 1)).
            mstore(buf, 0)
            mstore(add(buf, 0x20), 0)
            mcopy(add(buf, 0x40), msgPtr, msgLen)
            let p := add(add(buf, 0x40), msgLen)
            mstore8(p, 0x01)
            mstore8(add(p, 1), 0x00)
            mstore8(add(p, 2), 0x00)
            mcopy(add(p, 3), dstPtr, dstLen)
            mstore8(add(add(p, 3), dstLen), dstLen)
            ok := staticcall(gas(), 0x02, buf, add(add(0x44, msgLen), dstLen), 0x00, 0x20)
            let b0 := mload(0x00)
            // b_i = H((b_0 XOR b_{i−1}) ‖ I2OSP(i, 1) ‖ DST_prime), b_0 XOR "b_0 = 0" for i = 1.
            mcopy(add(buf, 0x21), dstPtr, dstLen)
            mstore8(add(add(buf, 0x21), dstLen), dstLen)
            let bLen := add(0x22, dstLen)
            let bi := 0
            // b_i is written straight into the uniform bytes at `at`.
            let at := uniform
            for {
                let i := 1
            } lt(i, 9) {
                i := add(i, 1)
            } {
                mstore(buf, xor(b0, bi))
                mstore8(add(buf, 0x20), i)
                ok := and(ok, staticcall(gas(), 0x02, buf, bLen, at, 0x20))
                bi := mload(at)
                at := add(at, 0x20)
            }
        }
        // hash_to_field: each 64-byte string mod p (RFC 9380 §5.2, L = 64), in plain EVM; the
        // uniform bytes are at scratch + 0x300, u0 ‖ u1 go to scratch.
        unchecked {
            // Memory addresses: no overflow.
            _reduceAt(scratch + 0x300, scratch);
            _reduceAt(scratch + 0x340, scratch + 0x40);
            _reduceAt(scratch + 0x380, scratch + 0x80);
            _reduceAt(scratch + 0x3c0, scratch + 0xc0);
        }
        assembly ("memory-safe") {
            let fields := scratch
            let q := add(scratch, 0x100)
            // map u0, u1 to G2 (cofactor cleared by the precompile) and add.
            ok := and(ok, staticcall(MAP_FP2_TO_G2_GAS, 0x11, fields, 0x80, q, 0x100))
            ok := and(
                ok,
                staticcall(MAP_FP2_TO_G2_GAS, 0x11, add(fields, 0x80), 0x80, add(q, 0x100), 0x100)
            )
            ok := and(ok, staticcall(G2ADD_GAS, 0x0d, q, 0x200, out, 0x100))
        }
    }

    // ------------------------------------------------------------------ verification

    /// @notice Verifies `sig` (G2) by `pk` (G1) on `message` under the signature DST. Reverts with
    /// {BLS12381InvalidPoint} on a malformed point; returns false for a well-formed wrong signature.
    function verify(
        bytes memory pk,
        bytes memory message,
        bytes memory sig
    ) internal view returns (bool) {
        return _verifyOrRevert(pk, hashToG2(message, DST_SIG), sig);
    }

    /// @notice Non-reverting {verify}: false for every malformed input.
    function tryVerify(
        bytes memory pk,
        bytes memory message,
        bytes memory sig
    ) internal view returns (bool) {
        (bool wellFormed, bool valid) = _pairingCheck(pk, hashToG2(message, DST_SIG), sig);
        return wellFormed && valid;
    }

    /// @notice Fast aggregate verification: all `pks` signed the same `message`; `aggSig` is the sum
    /// of their signatures. One pairing check against the G1ADD-sum of the keys (the paper's batch
    /// verification). Sound only for keys whose possession was proven ({verifyPossession}) at
    /// registration: that is both the rogue-key defence and the subgroup check of each key, because
    /// G1ADD checks that a point is on the curve but not that it lies in the subgroup (the pairing
    /// check then validates the sum). Reverts on a malformed point or an empty list.
    function verifyAggregateSameMessage(
        bytes[] memory pks,
        bytes memory message,
        bytes memory aggSig
    ) internal view returns (bool) {
        if (pks.length == 0) revert BLS12381NoPublicKeys();
        (bool ok, bytes memory sum) = _sumG1(pks);
        if (!ok) revert BLS12381InvalidPoint();
        return _verifyOrRevert(sum, hashToG2(message, DST_SIG), aggSig);
    }

    /// @notice Non-reverting {verifyAggregateSameMessage}: false for every malformed input.
    function tryVerifyAggregateSameMessage(
        bytes[] memory pks,
        bytes memory message,
        bytes memory aggSig
    ) internal view returns (bool) {
        if (pks.length == 0) return false;
        (bool ok, bytes memory sum) = _sumG1(pks);
        if (!ok) return false;
        (bool wellFormed, bool valid) = _pairingCheck(sum, hashToG2(message, DST_SIG), aggSig);
        return wellFormed && valid;
    }

    /// @notice Verifies a proof of possession: a signature on the key's 48-byte compressed encoding
    /// under the PoP DST. Reverts on a malformed point.
    function verifyPossession(bytes memory pk, bytes memory pop) internal view returns (bool) {
        if (!_isG1Shaped(pk)) revert BLS12381InvalidPoint();
        return _verifyOrRevert(pk, hashToG2(compressG1(pk), DST_POP), pop);
    }

    /// @notice Non-reverting {verifyPossession}.
    function tryVerifyPossession(bytes memory pk, bytes memory pop) internal view returns (bool) {
        if (!_isG1Shaped(pk)) return false;
        (bool wellFormed, bool valid) = _pairingCheck(pk, hashToG2(compressG1(pk), DST_POP), pop);
        return wellFormed && valid;
    }

    /// @notice ZCash/IETF 48-byte compressed encoding of an EIP-2537 G1 point (x with the
    /// compression flag 0x80 and the sign flag 0x20 when y > (p − 1)/2). Does not validate the point;
    /// the identity (all zeros) encodes as 0xc0 ‖ 47 zero bytes.
    function compressG1(bytes memory pk) internal pure returns (bytes memory compressed) {
        if (pk.length != G1_POINT_LENGTH) revert BLS12381InvalidPoint();
        uint256 xHi;
        uint256 xLo;
        uint256 yHi;
        uint256 yLo;
        assembly ("memory-safe") {
            xHi := mload(add(pk, 0x20))
            xLo := mload(add(pk, 0x40))
            yHi := mload(add(pk, 0x60))
            yLo := mload(add(pk, 0x80))
        }
        uint256 flags = 0x80;
        if ((xHi | xLo | yHi | yLo) == 0) {
            flags |= 0x40;
        } else if (yHi > HALF_P_HI || (yHi == HALF_P_HI && yLo > HALF_P_LO)) {
            flags |= 0x20;
        }
        // xHi holds 16 significant bytes (p < 2^381, so its top 3 bits are free for the flags).
        compressed = abi.encodePacked(bytes16(uint128(xHi | (flags << 120))), bytes32(xLo));
    }

    // ------------------------------------------------------------------ in-place forms
    // For hot paths that lay out a pairing input themselves (AggregationLedger.commitBlock): no
    // `bytes` allocated or copied. Pointers are memory addresses.

    /// @notice {hashToG2} of the `msgLen` bytes at `msgPtr` under the signature DST, written as 256
    /// bytes at `out`. Uses the free memory above the free memory pointer as scratch, so `out` and
    /// the message must lie below it. False only if a precompile failed.
    function hashToG2SigAt(
        uint256 msgPtr,
        uint256 msgLen,
        uint256 out
    ) internal view returns (bool) {
        bytes memory dst = DST_SIG;
        return _hashToG2At(msgPtr, msgLen, _ptr(dst), dst.length, out);
    }

    /// @notice Writes −g1 (128 bytes, EIP-2537) at `out`.
    function writeNegG1At(uint256 out) internal pure {
        assembly ("memory-safe") {
            mstore(out, NEG_G1_X_HI)
            mstore(add(out, 0x20), NEG_G1_X_LO)
            mstore(add(out, 0x40), NEG_G1_Y_HI)
            mstore(add(out, 0x60), NEG_G1_Y_LO)
        }
    }

    /// @notice PAIRING_CHECK of the 3 pairs (3 × 384 bytes) at `buf` (gas: see the contract notes):
    /// true iff the precompile accepts every point and the product is 1.
    function pairing3At(uint256 buf) internal view returns (bool) {
        bool ok;
        uint256 out;
        assembly ("memory-safe") {
            mstore(0x00, 0)
            ok := staticcall(
                add(PAIRING_BASE_GAS, mul(3, PAIRING_PER_PAIR_GAS)),
                0x0f,
                buf,
                0x480,
                0x00,
                0x20
            )
            out := mload(0x00)
        }
        return ok && out == 1;
    }

    /// @notice ZCash/IETF 96-byte compressed encoding ({compressG2}) of the 256-byte EIP-2537 G2
    /// point at `src`, written at `dst` (may equal `src` only if nothing after `dst + 96` matters).
    function compressG2At(uint256 src, uint256 dst) internal pure {
        assembly ("memory-safe") {
            let x0Hi := mload(src)
            let x0Lo := mload(add(src, 0x20))
            let x1Hi := mload(add(src, 0x40))
            let x1Lo := mload(add(src, 0x60))
            let y0Hi := mload(add(src, 0x80))
            let y0Lo := mload(add(src, 0xa0))
            let y1Hi := mload(add(src, 0xc0))
            let y1Lo := mload(add(src, 0xe0))
            let flags := 0x80
            switch or(or(or(x0Hi, x0Lo), or(x1Hi, x1Lo)), or(or(y0Hi, y0Lo), or(y1Hi, y1Lo)))
            case 0 {
                flags := 0xc0
            }
            default {
                // The sign of y: y.c1 > (p − 1)/2, or y.c0 > (p − 1)/2 when y.c1 = 0.
                let hi := y1Hi
                let lo := y1Lo
                if iszero(or(y1Hi, y1Lo)) {
                    hi := y0Hi
                    lo := y0Lo
                }
                if or(gt(hi, HALF_P_HI), and(eq(hi, HALF_P_HI), gt(lo, HALF_P_LO))) {
                    flags := 0xa0
                }
            }
            // x.c1 with the flags in its top 3 bits (p < 2^381), then x.c0; 48 bytes each. Written
            // in increasing order: each store's 16 trailing bytes are overwritten by the next.
            mstore(dst, shl(128, or(x1Hi, shl(120, flags))))
            mstore(add(dst, 0x10), x1Lo)
            mstore(add(dst, 0x30), shl(128, x0Hi))
            mstore(add(dst, 0x40), x0Lo)
        }
    }

    function _ptr(bytes memory b) private pure returns (uint256 p) {
        assembly ("memory-safe") {
            p := add(b, 0x20)
        }
    }

    /// @notice Batch verification of k signatures by k keys on ONE message (DESIGN §5.4): with
    /// coefficients `c_i` (128-bit, non-zero) derived by hashing the message, all keys and all
    /// signatures, checks `e(Σ c_i·pk_i, H(m)) = e(g1, Σ c_i·σ_i)` with one G1MSM, one G2MSM and one
    /// 2-pair PAIRING_CHECK. If any single signature is invalid the check passes with probability
    /// ≤ 2^-127 per choice of inputs (small-exponent batch verification, Bellare–Garay–Rabin 1998;
    /// the coefficients are a Fiat–Shamir hash of everything checked, so they cannot be chosen
    /// after the signatures). The MSM precompiles check subgroup membership of every point, so each
    /// signature must be THE unique signature of its key on `message`. `keys` is k·128 bytes,
    /// `sigs` k·256 bytes. Returns false on malformed input or k = 0. MSM calls forward all gas
    /// (their price depends on k through EIP-2537's discount table): a malformed point costs the
    /// forwarded gas, so call it from views or with a bounded gas limit.
    function tryVerifyBatchSameMessage(
        bytes memory keys,
        bytes memory message,
        bytes memory sigs
    ) internal view returns (bool) {
        uint256 k = keys.length / G1_POINT_LENGTH;
        if (k == 0 || keys.length != k * G1_POINT_LENGTH || sigs.length != k * G2_POINT_LENGTH) {
            return false;
        }
        bytes32 seed = keccak256(
            abi.encodePacked(keccak256(message), keccak256(keys), keccak256(sigs))
        );
        bytes memory g1Input = new bytes(k * 160);
        bytes memory g2Input = new bytes(k * 288);
        for (uint256 i = 0; i < k; ++i) {
            // Non-zero 128-bit coefficient: the low 127 bits of a hash, plus 2^127.
            uint256 c = (uint256(keccak256(abi.encodePacked(seed, i))) >> 129) | (1 << 127);
            assembly ("memory-safe") {
                let d1 := add(add(g1Input, 0x20), mul(i, 160))
                mcopy(d1, add(add(keys, 0x20), mul(i, 128)), 128)
                mstore(add(d1, 128), c)
                let d2 := add(add(g2Input, 0x20), mul(i, 288))
                mcopy(d2, add(add(sigs, 0x20), mul(i, 256)), 256)
                mstore(add(d2, 256), c)
            }
        }
        bytes memory combinedKey = new bytes(G1_POINT_LENGTH);
        bytes memory combinedSig = new bytes(G2_POINT_LENGTH);
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(
                gas(),
                0x0c,
                add(g1Input, 0x20),
                mload(g1Input),
                add(combinedKey, 0x20),
                0x80
            )
            ok := and(
                ok,
                staticcall(
                    gas(),
                    0x0e,
                    add(g2Input, 0x20),
                    mload(g2Input),
                    add(combinedSig, 0x20),
                    0x100
                )
            )
        }
        if (!ok) return false;
        (bool wellFormed, bool valid) = _pairingCheck(
            combinedKey,
            hashToG2(message, DST_SIG),
            combinedSig
        );
        return wellFormed && valid;
    }

    /// @notice Sum of two G1 points with G1ADD (on-curve check only, no subgroup check); ok = false
    /// on a wrong length or a point off the curve.
    function tryAddG1(
        bytes memory a,
        bytes memory b
    ) internal view returns (bool ok, bytes memory sum) {
        sum = new bytes(G1_POINT_LENGTH);
        if (a.length != G1_POINT_LENGTH || b.length != G1_POINT_LENGTH) return (false, sum);
        assembly ("memory-safe") {
            let buf := mload(0x40)
            mcopy(buf, add(a, 0x20), 0x80)
            mcopy(add(buf, 0x80), add(b, 0x20), 0x80)
            ok := staticcall(G1ADD_GAS, 0x0b, buf, 0x100, add(sum, 0x20), 0x80)
        }
    }

    /// @notice −P for an EIP-2537 G1 point (y → p − y; the identity maps to itself). Does not
    /// validate the point beyond its length; y must be < p (as every precompile output is).
    function negateG1(bytes memory point) internal pure returns (bytes memory neg) {
        if (point.length != G1_POINT_LENGTH) revert BLS12381InvalidPoint();
        neg = new bytes(G1_POINT_LENGTH);
        uint256 yHi;
        uint256 yLo;
        assembly ("memory-safe") {
            mcopy(add(neg, 0x20), add(point, 0x20), 0x40)
            yHi := mload(add(point, 0x60))
            yLo := mload(add(point, 0x80))
        }
        if ((yHi | yLo) == 0) {
            // The identity (all zeros, since its x is zero too) or a malformed point: copy as is.
            assembly ("memory-safe") {
                mcopy(add(neg, 0x60), add(point, 0x60), 0x40)
            }
            return neg;
        }
        // p = P_HI·2^256 + P_LO; (yHi, yLo) < p, so the subtraction below never underflows overall.
        uint256 lo;
        uint256 hi;
        unchecked {
            // Two-limb subtraction p − y: the low limb wraps exactly when it borrows from the high
            // limb, and p > y guarantees the high limb difference minus the borrow is ≥ 0.
            lo = P_LO - yLo;
            hi = P_HI - yHi - (yLo > P_LO ? 1 : 0);
        }
        assembly ("memory-safe") {
            mstore(add(neg, 0x60), hi)
            mstore(add(neg, 0x80), lo)
        }
    }

    /// @notice ZCash/IETF 96-byte compressed encoding of an EIP-2537 G2 point (`x.c1 ‖ x.c0` with the
    /// compression flag and the sign flag of y: y.c1 > (p − 1)/2, or y.c0 > (p − 1)/2 when y.c1 = 0).
    /// This is the signature encoding of offchain/crypto/bls.ts, so `sha256(compressG2(σ))` equals
    /// `randomFromSignature(σ)` off-chain. Does not validate the point; identity → 0xc0 ‖ zeros.
    function compressG2(bytes memory point) internal pure returns (bytes memory compressed) {
        if (point.length != G2_POINT_LENGTH) revert BLS12381InvalidPoint();
        compressed = new bytes(96);
        compressG2At(_ptr(point), _ptr(compressed));
    }

    // ------------------------------------------------------------------ internals

    function _verifyOrRevert(
        bytes memory pk,
        bytes memory h,
        bytes memory sig
    ) private view returns (bool) {
        (bool wellFormed, bool valid) = _pairingCheck(pk, h, sig);
        if (!wellFormed) revert BLS12381InvalidPoint();
        return valid;
    }

    /// @dev One PAIRING_CHECK of e(pk, h)·e(−g1, sig) == 1, i.e. e(pk, H(m)) == e(g1, σ).
    /// `wellFormed` is false for wrong lengths, the identity key (which would accept the identity
    /// signature on every message) and any point the precompile rejects.
    function _pairingCheck(
        bytes memory pk,
        bytes memory h,
        bytes memory sig
    ) private view returns (bool wellFormed, bool valid) {
        if (!_isG1Shaped(pk) || sig.length != G2_POINT_LENGTH || h.length != G2_POINT_LENGTH) {
            return (false, false);
        }
        uint256 out;
        assembly ("memory-safe") {
            let buf := mload(0x40)
            // pair 1: pk (128) ‖ h (256)
            mcopy(buf, add(pk, 0x20), 0x80)
            mcopy(add(buf, 0x80), add(h, 0x20), 0x100)
            // pair 2: −g1 (128) ‖ sig (256)
            mstore(add(buf, 0x180), NEG_G1_X_HI)
            mstore(add(buf, 0x1a0), NEG_G1_X_LO)
            mstore(add(buf, 0x1c0), NEG_G1_Y_HI)
            mstore(add(buf, 0x1e0), NEG_G1_Y_LO)
            mcopy(add(buf, 0x200), add(sig, 0x20), 0x100)
            mstore(0x00, 0)
            wellFormed := staticcall(
                add(PAIRING_BASE_GAS, mul(2, PAIRING_PER_PAIR_GAS)),
                0x0f,
                buf,
                0x300,
                0x00,
                0x20
            )
            out := mload(0x00)
        }
        valid = wellFormed && out == 1;
    }

    /// @dev 128 bytes and not the identity (all zeros). Curve and subgroup membership are left to
    /// the precompiles.
    function _isG1Shaped(bytes memory pk) private pure returns (bool) {
        if (pk.length != G1_POINT_LENGTH) return false;
        uint256 nonZero;
        assembly ("memory-safe") {
            nonZero := or(
                or(mload(add(pk, 0x20)), mload(add(pk, 0x40))),
                or(mload(add(pk, 0x60)), mload(add(pk, 0x80)))
            )
        }
        return nonZero != 0;
    }

    /// @dev Sum of G1 points with G1ADD; ok = false on a wrong length, an identity key or a point
    /// off the curve (G1ADD's failure).
    function _sumG1(bytes[] memory pks) private view returns (bool ok, bytes memory sum) {
        sum = new bytes(G1_POINT_LENGTH);
        ok = true;
        for (uint256 i = 0; i < pks.length && ok; ++i) {
            bytes memory pk = pks[i];
            if (!_isG1Shaped(pk)) return (false, sum);
            assembly ("memory-safe") {
                let buf := mload(0x40)
                mcopy(buf, add(sum, 0x20), 0x80)
                mcopy(add(buf, 0x80), add(pk, 0x20), 0x80)
                ok := staticcall(G1ADD_GAS, 0x0b, buf, 0x100, add(sum, 0x20), 0x80)
            }
        }
    }

    function _sha256(bytes memory data) private view returns (bytes32 digest) {
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 0x02, add(data, 0x20), mload(data), 0x00, 0x20)
            digest := mload(0x00)
        }
        if (!ok) revert BLS12381PrecompileFailed(SHA256);
    }

    /// @dev dst[dstOffset..+64] = EIP-2537 Fp element (src[srcOffset..+64] as a 512-bit integer mod p)
    /// (RFC 9380 hash_to_field, L = 64).
    function _reduceModP(
        bytes memory src,
        uint256 srcOffset,
        bytes memory dst,
        uint256 dstOffset
    ) private pure {
        // Memory addresses within the two byte strings: no overflow.
        unchecked {
            _reduceAt(_ptr(src) + srcOffset, _ptr(dst) + dstOffset);
        }
    }

    /// @notice (a·2^256 + b) mod p as (hi, lo): the two words of an EIP-2537 Fp element
    /// (hi < 2^125). Test-facing form of {_reduceAt}.
    function modP512(uint256 a, uint256 b) internal pure returns (uint256 hi, uint256 lo) {
        uint256 buf;
        assembly ("memory-safe") {
            buf := mload(0x40)
            mstore(buf, a)
            mstore(add(buf, 0x20), b)
        }
        _reduceAt(buf, buf);
        assembly ("memory-safe") {
            hi := mload(buf)
            lo := mload(add(buf, 0x20))
        }
    }

    /// @dev The 64 bytes at `src` (a 512-bit big-endian integer x = a·2^256 + b) mod p, written as the
    /// EIP-2537 Fp element (64 bytes, the first 16 zero) at `dst` (may equal `src`). RFC 9380
    /// hash_to_field with L = 64, in plain EVM instead of a MODEXP call (500 gas under EIP-7883 plus
    /// the call). One Barrett step with μ = ⌊2^636 / p⌋ (256 bits): q̂ = ⌊a·μ / 2^380⌋ ≤ ⌊x / p⌋ ≤
    /// q̂ + 1, because x/p < a·2^256/p + 2^256/p ≤ a·μ/2^380 + a/2^380 + 2^-124 with a/2^380 < 2^-124;
    /// so x − q̂·p < 2p < 2^382 is computed modulo 2^384 exactly and one conditional subtraction of p
    /// finishes. Also q̂ < 2^512/p, so q̂·P_HI < 2^256. Checked against MODEXP by fuzz tests of
    /// {modP512} (test/crypto/BlsFuzz.t.sol), uniform and next to multiples of p.
    function _reduceAt(uint256 src, uint256 dst) private pure {
        assembly ("memory-safe") {
            let a := mload(src)
            let b := mload(add(src, 0x20))
            // q̂ = high word of a·μ (512-bit product: mulmod trick) shifted by 380 − 256 = 124.
            let prodLo := mul(a, MU)
            let prodMid := mulmod(a, MU, not(0))
            let q := shr(124, sub(sub(prodMid, prodLo), lt(prodMid, prodLo)))
            // q̂·p mod 2^384 = q̂·P_LO (full 512 bits) + (q̂·P_HI)·2^256.
            let tLo := mul(q, P_LO)
            let tMid := mulmod(q, P_LO, not(0))
            let tHi := sub(sub(tMid, tLo), lt(tMid, tLo))
            // r = x − q̂·p modulo 2^384: low word with borrow, high word masked to 128 bits.
            let lo := sub(b, tLo)
            let hi := and(
                sub(sub(sub(a, tHi), mul(q, P_HI)), lt(b, tLo)),
                0xffffffffffffffffffffffffffffffff
            )
            // r < 2p: subtract p once if r ≥ p.
            if or(gt(hi, P_HI), and(eq(hi, P_HI), iszero(lt(lo, P_LO)))) {
                hi := sub(sub(hi, P_HI), lt(lo, P_LO))
                lo := sub(lo, P_LO)
            }
            mstore(dst, hi)
            mstore(add(dst, 0x20), lo)
        }
    }
}
