// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TestBase} from "../helpers/TestBase.sol";
import {IBillingLedger, EntryProblem} from "../../contracts/interfaces/IBillingLedger.sol";
import {EntryDigest} from "../../contracts/libraries/EntryDigest.sol";
import {OcdBatch} from "../../contracts/libraries/OcdBatch.sol";

/// @notice External wrapper of {OcdBatch.billCount} and {OcdBatch.acceptBill} (internal
/// functions), so tests can feed them packed calldata and expect their reverts.
contract BillPackedHarness {
    function count(uint32 interval, bytes calldata bills) external pure returns (uint256) {
        return OcdBatch.billCount(interval, bills);
    }

    /// @dev Runs {OcdBatch.acceptBill} over every bill of `bills` from an empty bill state;
    /// returns the bills' §4.4 digests and the running commitments.
    function accept(
        bytes32 domain,
        uint32 interval,
        uint64 price,
        bytes calldata bills
    ) external pure returns (bytes32[] memory digests, bytes32 acc, uint128 total) {
        OcdBatch.BillContext memory ctx = OcdBatch.BillContext({
            domain: domain,
            interval: interval,
            price: price,
            acc: bytes32(0),
            total: 0
        });
        uint256 n = OcdBatch.billCount(interval, bills);
        digests = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) digests[i] = OcdBatch.acceptBill(ctx, bills, i);
        return (digests, ctx.acc, ctx.total);
    }
}

/// @notice Fuzz tests of the packed bill calldata of {IBillingLedger.postBills} (issue 14,
/// session 12): lengths that are not whole 56-byte bills revert with the named error, and
/// {OcdBatch.acceptBill}'s assembly reads give the field values, §4.4 digests
/// ({EntryDigest.digest}, kind 2) and running commitments ({OcdBatch.chain}) of the bills as
/// written, whatever bytes follow them in calldata.
contract BillPackedTest is TestBase {
    BillPackedHarness internal harness;

    function setUp() public {
        harness = new BillPackedHarness();
    }

    function testFuzz_count_wholeBillsOnly(uint32 interval, uint256 length) public {
        length = bound(length, 0, 700);
        bytes memory bills = new bytes(length);
        if (length % 56 == 0) {
            assertEq(harness.count(interval, bills), length / 56, "whole bills");
        } else {
            // Truncated last bill, trailing bytes, or less than one bill: the named error.
            vm.expectRevert(
                abi.encodeWithSelector(
                    IBillingLedger.BillingLedgerPackedLength.selector,
                    interval,
                    length
                )
            );
            harness.count(interval, bills);
        }
    }

    /// @dev What two bills should give: their packed bytes, digests, bill digest and total.
    struct Expected {
        bytes bills;
        bytes32[] m;
        bytes32 acc;
        uint128 total;
    }

    /// @dev Appends bill `k` (consumption and time from `part`, the bill `p·c`) to `e`.
    function _append(
        Expected memory e,
        uint256 k,
        bytes32 domain,
        uint32 interval,
        uint32 price,
        bytes32 id,
        uint128 part
    ) internal pure {
        // B = p·c must fit the packed u64: c bounded by the price.
        uint64 c = uint64(
            bound(uint64(part), 0, price == 0 ? type(uint64).max : type(uint64).max / price)
        );
        uint64 ts = uint64(part >> 64);
        uint64 b = price * c;
        e.bills = abi.encodePacked(e.bills, id, c, ts, b);
        e.m[k] = EntryDigest.digest(domain, EntryDigest.KIND_BC, interval, id, ts, b);
        e.acc = OcdBatch.chain(e.acc, id, c);
        e.total += b;
    }

    /// @dev `seed` gives both bills' consumption and time (fewer parameters: the stack).
    function testFuzz_acceptBill_digestsAndCommitments(
        bytes32 domain,
        uint32 interval,
        uint32 price,
        bytes32 id1,
        bytes32 id2,
        uint256 seed
    ) public view {
        Expected memory e = Expected("", new bytes32[](2), bytes32(0), 0);
        // Two bills, so a wrong stride or a field read across bills shows.
        _append(e, 0, domain, interval, price, id1, uint128(seed));
        _append(e, 1, domain, interval, price, id2, uint128(seed >> 128));
        assertEq(e.bills.length, 112, "56 bytes per bill");
        (bool ok, bytes memory got) = address(harness).staticcall(
            abi.encodeCall(BillPackedHarness.accept, (domain, interval, price, e.bills))
        );
        assertTrue(ok, "accepted");
        assertEq(
            keccak256(got),
            keccak256(abi.encode(e.m, e.acc, e.total)),
            "digests, bill digest, billed total"
        );
    }

    /// @dev Bytes after the last bill (the ABI's padding, here made non-zero by hand-built
    /// calldata) do not reach any field: the second word of the last bill spans them.
    function testFuzz_acceptBill_ignoresWhatFollows(
        bytes32 id,
        uint32 c,
        uint64 ts,
        bytes8 tail
    ) public view {
        uint64 b = 7 * uint64(c);
        bytes memory expected = abi.encode(
            _one(EntryDigest.digest(bytes32(0), EntryDigest.KIND_BC, 1, id, ts, b)),
            OcdBatch.chain(bytes32(0), id, c),
            uint128(b)
        );
        (bool ok, bytes memory ret) = address(harness).staticcall(
            _acceptCalldata(abi.encodePacked(id, uint64(c), ts, b), tail)
        );
        assertTrue(ok, "accepted");
        assertEq(keccak256(ret), keccak256(expected), "digest, bill digest, total as written");
    }

    function _one(bytes32 m) internal pure returns (bytes32[] memory a) {
        a = new bytes32[](1);
        a[0] = m;
    }

    /// @dev Calldata of `accept(0, 1, 7, bill)` for one 56-byte bill, with `tail` written into
    /// the ABI padding right after it (head of 4 words, the length word, then the bill).
    function _acceptCalldata(bytes memory bill, bytes8 tail) internal pure returns (bytes memory) {
        bytes memory data = abi.encodeCall(BillPackedHarness.accept, (bytes32(0), 1, 7, bill));
        uint256 at = 4 + 5 * 32 + 56;
        for (uint256 k = 0; k < 8; ++k) data[at + k] = tail[k];
        return data;
    }

    function testFuzz_acceptBill_refusesBillNotPriceTimesConsumption(
        uint32 price,
        bytes32 id,
        uint32 c,
        uint64 b,
        uint8 at
    ) public {
        vm.assume(uint256(b) != uint256(price) * c);
        // The wrong bill at index 0 or 1 of two, the other honest: the index is named.
        uint256 index = at % 2;
        bytes memory honest = abi.encodePacked(id, uint64(c), uint64(0), uint64(price) * c);
        bytes memory wrong = abi.encodePacked(id, uint64(c), uint64(0), b);
        bytes memory bills =
            index == 0 ? abi.encodePacked(wrong, honest) : abi.encodePacked(honest, wrong);
        vm.expectRevert(
            abi.encodeWithSelector(
                IBillingLedger.BillingLedgerInvalidEntry.selector,
                9,
                index,
                EntryProblem.BillMismatch
            )
        );
        harness.accept(bytes32(0), 9, price, bills);
    }
}
