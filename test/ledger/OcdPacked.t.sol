// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TestBase} from "../helpers/TestBase.sol";
import {IBillingLedger, EntryProblem} from "../../contracts/interfaces/IBillingLedger.sol";
import {EntryDigest} from "../../contracts/libraries/EntryDigest.sol";
import {OcdBatch} from "../../contracts/libraries/OcdBatch.sol";
import {SchnorrVerifier} from "../../contracts/libraries/SchnorrVerifier.sol";

/// @notice External wrapper of the packed-calldata decoder and the fused check loop of
/// {OcdBatch} (internal functions), so tests can feed them calldata and expect their reverts.
contract OcdPackedHarness {
    function count(uint32 interval, bytes calldata entries) external pure returns (uint256) {
        return OcdBatch.packedCount(interval, entries);
    }

    function unpack(
        bytes calldata entries,
        uint64 ts
    ) external pure returns (bytes memory records) {
        uint256 n = OcdBatch.packedCount(0, entries);
        records = new bytes(n * OcdBatch.OCD_PACKED_SIZE);
        OcdBatch.unpackOcd(records, entries, n, ts);
    }

    /// @dev Runs {OcdBatch.acceptRun} over every record from an empty interval state.
    function accept(
        bytes32 domain,
        uint32 interval,
        uint64 ts,
        uint32[5] memory cats,
        bytes memory records
    ) external view returns (bytes32 acc, uint128 sum, bytes32 lastId) {
        OcdBatch.Context memory ctx = OcdBatch.Context({
            domain: domain,
            interval: interval,
            timestamp: ts,
            categories: cats,
            lastId: bytes32(0),
            acc: bytes32(0),
            sum: 0
        });
        uint256 n = records.length / OcdBatch.OCD_PACKED_SIZE;
        OcdBatch.acceptRun(ctx, records, 0, n, bytes32(0));
        return (ctx.acc, ctx.sum, ctx.lastId);
    }
}

/// @notice Fuzz tests of the packed OCD calldata of {IBillingLedger.postOcd} (issue 14): lengths
/// that are not whole entries revert with the named error, the decoder writes exactly the
/// 133-byte event record of the ABI path, and the fused assembly check loop gives the verdicts of
/// {SchnorrVerifier.tryVerify}, {EntryDigest.digest} and {OcdBatch.chain}.
contract OcdPackedTest is TestBase {
    /// @dev The secp256k1 generator: the key of secret 1, whose coordinates are public, so a
    /// valid signature can be made here with `vm.addr` alone (y = r + c·1).
    uint256 internal constant GX =
        0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798;
    uint256 internal constant N = SchnorrVerifier.N;

    OcdPackedHarness internal harness;

    function setUp() public {
        harness = new OcdPackedHarness();
    }

    function _cats() internal pure returns (uint32[5] memory) {
        return [uint32(100), 250, 500, 1000, 2000];
    }

    function testFuzz_count_wholeEntriesOnly(uint32 interval, uint256 length) public {
        length = bound(length, 0, 1500);
        bytes memory entries = new bytes(length);
        if (length % 121 == 0) {
            assertEq(harness.count(interval, entries), length / 121, "whole entries");
        } else {
            // Truncated last entry, trailing bytes, or less than one entry: the named error.
            vm.expectRevert(
                abi.encodeWithSelector(
                    IBillingLedger.BillingLedgerPackedLength.selector,
                    interval,
                    length
                )
            );
            harness.count(interval, entries);
        }
    }

    function testFuzz_unpack_writesTheEventRecord(
        bytes32 id,
        uint32 c,
        uint8 prefix,
        uint256 x,
        address rAddr,
        uint256 y,
        uint64 ts,
        bytes32 id2
    ) public view {
        bytes memory packed = abi.encodePacked(id, c, prefix, x, rAddr, y);
        assertEq(packed.length, 121, "121 bytes per entry");
        // Two entries, the second with other fields, to catch a wrong stride or overlap.
        bytes memory two = abi.encodePacked(packed, id2, ~c, ~prefix, ~x, rAddr, ~y);
        bytes memory records = harness.unpack(two, ts);
        bytes memory expected = abi.encodePacked(
            abi.encodePacked(id, ts, uint64(c), prefix, x, rAddr, y),
            abi.encodePacked(id2, ts, uint64(~c), ~prefix, ~x, rAddr, ~y)
        );
        assertEq(records.length, 266, "two 133-byte records");
        assertEq(keccak256(records), keccak256(expected), "records == ABI-path records");
    }

    /// @dev A valid signature under the generator's key on the §4.4 digest of the entry.
    function _signedRecord(
        bytes32 domain,
        uint32 interval,
        bytes32 id,
        uint64 ts,
        uint64 c,
        uint256 r
    ) internal pure returns (bytes memory record, address rAddr, uint256 y) {
        bytes32 m = EntryDigest.digest(domain, EntryDigest.KIND_OCD, interval, id, ts, c);
        rAddr = vm.addr(r);
        uint256 ch = uint256(keccak256(abi.encodePacked(rAddr, uint8(2), GX, m))) % N;
        y = addmod(r, ch, N);
        record = abi.encodePacked(id, ts, c, uint8(2), GX, rAddr, y);
    }

    function testFuzz_acceptRun_validSignatureAndCommitments(
        bytes32 domain,
        uint32 interval,
        bytes32 id,
        uint64 ts,
        uint8 category,
        uint256 r
    ) public view {
        vm.assume(id != bytes32(0));
        r = bound(r, 1, N - 1);
        uint64 c = _cats()[bound(category, 0, 4)];
        (bytes memory record, address rAddr, uint256 y) = _signedRecord(
            domain,
            interval,
            id,
            ts,
            c,
            r
        );
        vm.assume(y != 0);
        bytes32 m = EntryDigest.digest(domain, 0, interval, id, ts, c);
        assertTrue(SchnorrVerifier.tryVerify(2, GX, m, rAddr, y), "reference verifies");
        (bytes32 acc, uint128 sum, bytes32 lastId) = harness.accept(
            domain,
            interval,
            ts,
            _cats(),
            record
        );
        assertEq(acc, OcdBatch.chain(bytes32(0), id, c), "running digest == chain()");
        assertEq(sum, c, "sum");
        assertEq(lastId, id, "lastId");
    }

    function testFuzz_acceptRun_refusesWhatTryVerifyRefuses(
        bytes32 domain,
        uint32 interval,
        bytes32 id,
        uint256 r,
        uint8 prefix,
        uint256 x,
        uint256 y,
        uint8 mutation
    ) public {
        vm.assume(id != bytes32(0));
        r = bound(r, 1, N - 1);
        (bytes memory record, address rAddr, uint256 goodY) = _signedRecord(
            domain,
            interval,
            id,
            7,
            100,
            r
        );
        mutation = uint8(bound(mutation, 0, 4));
        // Alter one signature field (or the key), keeping the record's layout.
        if (mutation == 0) prefix = uint8(bound(prefix, 0, 255));
        else prefix = 2;
        if (mutation == 1) x = bound(x, 0, type(uint256).max);
        else x = GX;
        if (mutation == 2) y = bound(y, 0, type(uint256).max);
        else if (mutation == 3) {
            // y + n (out of range, same residue) when it fits, else wrapped (another residue):
            // refused either way.
            unchecked {
                y = goodY + N;
            }
        } else y = goodY ^ 1;
        if (mutation == 4) rAddr = address(0);
        record = abi.encodePacked(id, uint64(7), uint64(100), prefix, x, rAddr, y);
        bytes32 m = EntryDigest.digest(domain, 0, interval, id, 7, 100);
        bool valid = SchnorrVerifier.tryVerify(prefix, x, m, rAddr, y);
        if (valid) {
            harness.accept(domain, interval, 7, _cats(), record);
        } else {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IBillingLedger.BillingLedgerInvalidEntry.selector,
                    interval,
                    0,
                    EntryProblem.BadSignature
                )
            );
            harness.accept(domain, interval, 7, _cats(), record);
        }
    }

    function testFuzz_acceptRun_orderCategoryTimestamp(
        bytes32 id,
        uint64 c,
        uint64 ts,
        uint256 r
    ) public {
        vm.assume(id != bytes32(0));
        r = bound(r, 1, N - 1);
        uint32[5] memory cats = _cats();
        bool isCat = c == cats[0] || c == cats[1] || c == cats[2] || c == cats[3] || c == cats[4];
        (bytes memory record, , ) = _signedRecord(bytes32(0), 1, id, ts, c, r);
        EntryProblem problem =
            !isCat ? EntryProblem.NotACategoryValue : EntryProblem.TimestampNotIntervalEnd;
        // Accepted only with a category value at the interval's last second (ts + 1 here).
        vm.expectRevert(
            abi.encodeWithSelector(IBillingLedger.BillingLedgerInvalidEntry.selector, 1, 0, problem)
        );
        harness.accept(bytes32(0), 1, ts + (ts == type(uint64).max ? 0 : 1), cats, record);
        // The same record twice: the second is not above the first.
        bytes memory twice = abi.encodePacked(record, record);
        if (isCat) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IBillingLedger.BillingLedgerInvalidEntry.selector,
                    1,
                    1,
                    EntryProblem.PseudonymNotIncreasing
                )
            );
            harness.accept(bytes32(0), 1, ts, cats, twice);
        }
    }
}
