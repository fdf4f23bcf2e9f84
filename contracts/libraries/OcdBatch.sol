// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IBillingLedger, EntryProblem, OcdEntry, BillItem} from "../interfaces/IBillingLedger.sol";
import {EntryDigest} from "./EntryDigest.sol";
import {SchnorrVerifier} from "./SchnorrVerifier.sol";

/// @title OcdBatch
/// @notice Per-entry checks and event packing of the billing ledger's OCD and BC batches
/// (DESIGN §2, §4.4), over a memory context loaded once per batch from the interval's storage.
library OcdBatch {
    /// @dev Bytes per OCD entry in `OcdBatchPosted`: 32 + 8 + 8 + 1 + 32 + 20 + 32.
    uint256 internal constant OCD_PACKED_SIZE = 133;
    /// @dev Bytes per bill in `BillBatchPosted`: 32 + 8 + 8 + 8.
    uint256 internal constant BILL_PACKED_SIZE = 56;

    /// @notice What the checks of one OCD batch need, and the running commitments they update.
    struct Context {
        bytes32 domain;
        uint32 interval;
        /// @dev The only OCD timestamp allowed: the interval's last second `end − 1` (DESIGN §4.4).
        uint64 timestamp;
        uint32[5] categories;
        bytes32 lastId;
        bytes32 acc;
        uint128 sum;
    }

    /// @notice What the checks of one bill batch need, and the running commitments they update.
    struct BillContext {
        bytes32 domain;
        uint32 interval;
        uint64 price;
        bytes32 acc;
        uint128 total;
    }

    /// @notice Checks bill `index` (`B == p_j × c`), folds `(id, c)` into the running bill digest
    /// and returns the bill's §4.4 digest (kind 2, value = B).
    function acceptBill(
        BillContext memory ctx,
        BillItem calldata item,
        uint256 index
    ) internal pure returns (bytes32 m) {
        bytes32 id = item.id;
        uint64 c = item.consumptionWh;
        uint64 bill = item.bill;
        // price < 2^32 and c < 2^64: the product is computed in 256 bits and cannot overflow.
        if (bill != uint256(ctx.price) * c) {
            revert IBillingLedger.BillingLedgerInvalidEntry(
                ctx.interval,
                index,
                EntryProblem.BillMismatch
            );
        }
        m = digest(ctx.domain, EntryDigest.KIND_BC, ctx.interval, id, item.timestamp, bill);
        ctx.acc = chain(ctx.acc, id, c);
        // Each bill < 2^64 and fewer than 2^32 bills: the total stays below 2^96.
        unchecked {
            ctx.total += bill;
        }
    }

    /// @notice Checks OCD entry `index` and folds it into the running commitments; reverts with
    /// {IBillingLedger.BillingLedgerInvalidEntry} naming the first failed check.
    function accept(Context memory ctx, OcdEntry calldata e, uint256 index) internal pure {
        bytes32 id = e.id;
        uint64 ts = e.timestamp;
        uint64 c = e.consumptionWh;
        // Strictly increasing pseudonyms across the interval's batches: O(1) uniqueness.
        if (id <= ctx.lastId) _refuse(ctx, index, EntryProblem.PseudonymNotIncreasing);
        uint32[5] memory cats = ctx.categories;
        if (c != cats[0] && c != cats[1] && c != cats[2] && c != cats[3] && c != cats[4]) {
            _refuse(ctx, index, EntryProblem.NotACategoryValue);
        }
        if (ts != ctx.timestamp) _refuse(ctx, index, EntryProblem.TimestampNotIntervalEnd);
        bytes32 m = digest(ctx.domain, EntryDigest.KIND_OCD, ctx.interval, id, ts, c);
        if (!SchnorrVerifier.tryVerify(e.sigPkPrefix, e.sigPkX, m, e.rAddr, e.y)) {
            _refuse(ctx, index, EntryProblem.BadSignature);
        }
        ctx.acc = chain(ctx.acc, id, c);
        // c < 2^32 (a category value) and fewer than 2^32 entries: the sum stays below 2^64.
        unchecked {
            ctx.sum += c;
        }
        ctx.lastId = id;
    }

    /// @notice Writes OCD entry `index` (already accepted, so its fields are clean) as its 133-byte
    /// record into `packed`.
    function packOcd(bytes memory packed, uint256 index, OcdEntry calldata e) internal pure {
        assembly ("memory-safe") {
            // Fields in increasing offset order: each store overwrites the previous one's tail.
            let p := add(add(packed, 32), mul(index, OCD_PACKED_SIZE))
            mstore(p, calldataload(e))
            mstore(add(p, 32), shl(192, calldataload(add(e, 32))))
            mstore(add(p, 40), shl(192, calldataload(add(e, 64))))
            mstore8(add(p, 48), calldataload(add(e, 96)))
            mstore(add(p, 49), calldataload(add(e, 128)))
            mstore(add(p, 81), shl(96, calldataload(add(e, 160))))
            mstore(add(p, 101), calldataload(add(e, 192)))
        }
    }

    /// @notice Writes bill `index` (already checked) as its 56-byte record into `packed`.
    function packBill(bytes memory packed, uint256 index, BillItem calldata item) internal pure {
        assembly ("memory-safe") {
            let p := add(add(packed, 32), mul(index, BILL_PACKED_SIZE))
            mstore(p, calldataload(item))
            mstore(add(p, 32), shl(192, calldataload(add(item, 32))))
            mstore(add(p, 40), shl(192, calldataload(add(item, 64))))
            mstore(add(p, 48), shl(192, calldataload(add(item, 96))))
        }
    }

    /// @notice {EntryDigest.digest} computed in scratch memory without allocating: the same 85
    /// bytes `domain ‖ u8 kind ‖ u32 j ‖ id ‖ u64 T ‖ u64 value` (differentially fuzzed against
    /// {EntryDigest.digest} in test/ledger/Tariff.t.sol, `testFuzz_assemblyDigestEqualsEntryDigest`).
    function digest(
        bytes32 domain,
        uint8 kind,
        uint32 interval,
        bytes32 id,
        uint64 ts,
        uint64 value
    ) internal pure returns (bytes32 m) {
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, domain)
            mstore(add(p, 32), shl(248, kind))
            mstore(add(p, 33), shl(224, interval))
            mstore(add(p, 37), id)
            mstore(add(p, 69), shl(192, ts))
            mstore(add(p, 77), shl(192, value))
            m := keccak256(p, 85)
        }
    }

    /// @notice The running digest step `keccak256(acc ‖ id ‖ u64 c)` (72 bytes), hashed in scratch
    /// memory past the free pointer without allocating.
    function chain(bytes32 acc, bytes32 id, uint64 c) internal pure returns (bytes32 next) {
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, acc)
            mstore(add(p, 32), id)
            mstore(add(p, 64), shl(192, c))
            next := keccak256(p, 72)
        }
    }

    function _refuse(Context memory ctx, uint256 index, EntryProblem problem) private pure {
        revert IBillingLedger.BillingLedgerInvalidEntry(ctx.interval, index, problem);
    }
}
