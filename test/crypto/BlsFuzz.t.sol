// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TestBase} from "../helpers/TestBase.sol";
import {BLS12381} from "../../contracts/libraries/BLS12381.sol";
import {BLSHarness} from "../../contracts/mocks/BLSHarness.sol";
import {AggregationLedger} from "../../contracts/ledger/AggregationLedger.sol";
import {IAggregationLedger} from "../../contracts/interfaces/IAggregationLedger.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

/// @notice Fuzz tests of BLS12381 and AggregationLedger input checks (bounded inputs). The
/// differential tests against noble live in bls-onchain.test.ts; these pin properties that must
/// hold for every input.
contract BlsFuzzTest is TestBase {
    BLSHarness internal harness;
    AggregationLedger internal ledger;

    /// @dev The G1 generator in EIP-2537 form: a valid gateway key.
    bytes internal constant G1_GENERATOR =
        hex"0000000000000000000000000000000017f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb0000000000000000000000000000000008b3f481e3aaa0f1a09e30ed741d8ae4fcf5e095d5d00af600db18cb2c04b3edd03cc744a2888ae40caa232946c5e7e1";

    function setUp() public {
        harness = new BLSHarness();
        ledger = new AggregationLedger(address(this), G1_GENERATOR);
        ledger.grantRole(ledger.GATEWAY_ROLE(), address(this));
    }

    /// @dev Random bytes never pass as a signature: tryVerify returns false and never reverts.
    function testFuzz_tryVerify_randomPointsReturnFalse(
        bytes32 seed,
        bytes calldata message
    ) public view {
        bytes memory sig = abi.encodePacked(
            keccak256(abi.encode(seed, 0)),
            keccak256(abi.encode(seed, 1)),
            keccak256(abi.encode(seed, 2)),
            keccak256(abi.encode(seed, 3)),
            keccak256(abi.encode(seed, 4)),
            keccak256(abi.encode(seed, 5)),
            keccak256(abi.encode(seed, 6)),
            keccak256(abi.encode(seed, 7))
        );
        assertFalse(harness.tryVerify(G1_GENERATOR, message, sig), "random signature accepted");
        bytes memory pk = abi.encodePacked(seed, seed, seed, seed);
        assertFalse(harness.tryVerify(pk, message, sig), "random key and signature accepted");
    }

    /// @dev Wrong lengths are refused by the try form for every length.
    function testFuzz_tryVerify_wrongLengthsReturnFalse(uint256 pkLen, uint256 sigLen) public view {
        pkLen = bound(pkLen, 0, 300);
        sigLen = bound(sigLen, 0, 300);
        vm.assume(pkLen != 128 || sigLen != 256);
        assertFalse(
            harness.tryVerify(new bytes(pkLen), "m", new bytes(sigLen)),
            "wrong length accepted"
        );
    }

    /// @dev expand_message_xmd is 256 bytes, deterministic, and depends on the message.
    function testFuzz_expandMessageXmd_lengthAndDependence(bytes calldata message) public view {
        bytes memory a = harness.expandMessageXmd(message, BLS12381.DST_SIG);
        assertEq(a.length, 256, "length");
        assertEq(
            keccak256(a),
            keccak256(harness.expandMessageXmd(message, BLS12381.DST_SIG)),
            "deterministic"
        );
        bytes memory b = harness.expandMessageXmd(
            abi.encodePacked(message, uint8(0)),
            BLS12381.DST_SIG
        );
        assertTrue(keccak256(a) != keccak256(b), "extended message collides");
        bytes memory c = harness.expandMessageXmd(message, BLS12381.DST_POP);
        assertTrue(keccak256(a) != keccak256(c), "DSTs collide");
    }

    /// @dev hash_to_field outputs are canonical EIP-2537 Fp elements (16 zero bytes, value < p).
    function testFuzz_hashToField_isCanonical(bytes calldata message) public view {
        bytes memory fields = harness.hashToFieldFp2(message, BLS12381.DST_SIG);
        assertEq(fields.length, 256, "length");
        for (uint256 i = 0; i < 4; ++i) {
            uint256 hi;
            uint256 lo;
            assembly {
                hi := mload(add(fields, add(0x20, mul(i, 0x40))))
                lo := mload(add(fields, add(0x40, mul(i, 0x40))))
            }
            // p = 0x1a0111ea397fe69a4b1ba7b6434bacd7 ‖ 0x64774b84...aaab
            uint256 pHi = 0x1a0111ea397fe69a4b1ba7b6434bacd7;
            uint256 pLo = 0x64774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab;
            assertTrue(hi < pHi || (hi == pHi && lo < pLo), "element not below p");
        }
    }

    function testFuzz_recordRound_sumAtOrAboveRReverts(uint256 sum, uint64 round) public {
        sum = bound(sum, BLS12381.R, type(uint256).max);
        vm.expectRevert(
            abi.encodeWithSelector(IAggregationLedger.AggregationLedgerSumOutOfRange.selector, sum)
        );
        ledger.recordRound(round, sum, 10, new bytes(256));
    }

    function testFuzz_recordRound_wrongSignatureLengthReverts(
        uint256 length,
        uint64 round,
        uint256 sum
    ) public {
        length = bound(length, 0, 600);
        vm.assume(length != 256);
        sum = bound(sum, 0, BLS12381.R - 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAggregationLedger.AggregationLedgerSignatureLength.selector,
                length
            )
        );
        ledger.recordRound(round, sum, 10, new bytes(length));
    }

    function testFuzz_recordRound_unauthorizedCallerReverts(address caller, uint64 round) public {
        vm.assume(caller != address(this));
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector,
                caller,
                ledger.GATEWAY_ROLE()
            )
        );
        vm.prank(caller);
        ledger.recordRound(round, 0, 10, new bytes(256));
    }

    /// @dev Fewer counted reporters than `minReporters()` (default 10) revert before any pairing
    /// (DESIGN §4.7; issue 12 §3: one reporter's "sum" is its reading).
    function testFuzz_recordRound_tooFewReportersReverts(
        uint32 reporters,
        uint64 round,
        uint256 sum
    ) public {
        reporters = uint32(bound(reporters, 0, 9));
        sum = bound(sum, 0, BLS12381.R - 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAggregationLedger.AggregationLedgerTooFewReporters.selector,
                round,
                reporters,
                uint32(10)
            )
        );
        ledger.recordRound(round, sum, reporters, new bytes(256));
    }

    /// @dev The minimum is configurable by the admin, never below 2.
    function testFuzz_setMinReporters_boundsAndEffect(uint32 min, uint64 round) public {
        if (min < 2) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IAggregationLedger.AggregationLedgerMinReportersTooLow.selector,
                    min
                )
            );
            ledger.setMinReporters(min);
            return;
        }
        ledger.setMinReporters(min);
        assertEq(ledger.minReporters(), min, "minReporters");
        vm.expectRevert(
            abi.encodeWithSelector(
                IAggregationLedger.AggregationLedgerTooFewReporters.selector,
                round,
                min - 1,
                min
            )
        );
        ledger.recordRound(round, 1, min - 1, new bytes(256));
    }

    /// @dev A random (non-signature) G2 blob is reported as an invalid signature, never accepted.
    function testFuzz_recordRound_randomSignatureReverts(
        bytes32 seed,
        uint64 round,
        uint256 sum
    ) public {
        sum = bound(sum, 0, BLS12381.R - 1);
        bytes memory sig = abi.encodePacked(seed, seed, seed, seed, seed, seed, seed, seed);
        vm.expectRevert(
            abi.encodeWithSelector(
                IAggregationLedger.AggregationLedgerInvalidSignature.selector,
                round,
                sum
            )
        );
        ledger.recordRound(round, sum, 10, sig);
    }

    function test_compressG1_generatorMatchesZcashEncoding() public view {
        // The standard compressed G1 generator: 0x97f1d3a7... (flag 0x80, y not lexicographically largest).
        assertEq(
            keccak256(harness.compressG1(G1_GENERATOR)),
            keccak256(
                hex"97f1d3a73197d7942695638c4fa9ac0fc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb"
            ),
            "compressed generator"
        );
    }

    // ---------------------------------------------------------------- hash_to_field reduction

    uint256 private constant P_HI = 0x1a0111ea397fe69a4b1ba7b6434bacd7;
    uint256 private constant P_LO =
        0x64774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab;

    /// @dev x mod p with the MODEXP precompile (exponent 1, 48-byte modulus): the reference.
    function _modexpModP(uint256 a, uint256 b) private view returns (uint256 hi, uint256 lo) {
        bytes memory input = abi.encodePacked(
            uint256(64),
            uint256(1),
            uint256(48),
            a,
            b,
            uint8(1),
            uint128(P_HI),
            P_LO
        );
        (bool ok, bytes memory out) = address(0x05).staticcall(input);
        require(ok && out.length == 48, "modexp");
        assembly ("memory-safe") {
            hi := shr(128, mload(add(out, 0x20)))
            lo := mload(add(out, 0x30))
        }
    }

    /// @dev BLS12381.modP512 (one Barrett step) equals MODEXP for uniform 512-bit inputs.
    function testFuzz_modP512_equalsModexp(uint256 a, uint256 b) public view {
        (uint256 hi, uint256 lo) = BLS12381.modP512(a, b);
        (uint256 rHi, uint256 rLo) = _modexpModP(a, b);
        assertEq(hi, rHi, "high word");
        assertEq(lo, rLo, "low word");
    }

    /// @dev …and next to multiples of p (k·p + δ for δ ∈ {−2…+2} and p − 1 − δ), where a one-step
    /// quotient estimate is most likely off by one.
    function testFuzz_modP512_nearMultiplesOfP(uint256 k, uint256 delta) public view {
        k = bound(k, 0, (uint256(1) << 131) - 1); // k·p < 2^512
        delta = bound(delta, 0, 4);
        // x = k·p + δ − 2, as (a, b): k·P_LO (512 bits) + k·P_HI·2^256.
        uint256 a;
        uint256 b;
        assembly ("memory-safe") {
            b := mul(k, P_LO)
            let mid := mulmod(k, P_LO, not(0))
            a := add(sub(sub(mid, b), lt(mid, b)), mul(k, P_HI))
            // + δ − 2 with carry/borrow
            let d := sub(delta, 2)
            let nb := add(b, d)
            switch slt(d, 0)
            case 0 {
                a := add(a, lt(nb, b))
            }
            default {
                a := sub(a, gt(nb, b))
            }
            b := nb
        }
        if (k == 0 && delta < 2) return; // x < 0
        (uint256 hi, uint256 lo) = BLS12381.modP512(a, b);
        (uint256 rHi, uint256 rLo) = _modexpModP(a, b);
        assertEq(hi, rHi, "high word");
        assertEq(lo, rLo, "low word");
        // The extremes: 2^512 − 1 and 0.
        (hi, lo) = BLS12381.modP512(type(uint256).max, type(uint256).max);
        (rHi, rLo) = _modexpModP(type(uint256).max, type(uint256).max);
        assertEq(hi, rHi, "2^512 - 1");
        assertEq(lo, rLo, "2^512 - 1");
        (hi, lo) = BLS12381.modP512(0, 0);
        assertEq(hi | lo, 0, "zero");
    }
}
