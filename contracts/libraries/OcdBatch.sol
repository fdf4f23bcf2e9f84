// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IBillingLedger, EntryProblem, OcdEntry} from "../interfaces/IBillingLedger.sol";
import {EntryDigest} from "./EntryDigest.sol";
import {SchnorrVerifier} from "./SchnorrVerifier.sol";

/// @title OcdBatch
/// @notice Per-entry checks and event packing of the billing ledger's OCD and BC batches
/// (DESIGN §2, §4.4), over a memory context loaded once per batch from the interval's storage.
library OcdBatch {
    /// @dev Bytes per OCD entry in `OcdBatchPosted`: 32 + 8 + 8 + 1 + 32 + 20 + 32.
    uint256 internal constant OCD_PACKED_SIZE = 133;
    /// @dev Bytes per entry in the packed calldata of {IBillingLedger.postOcd}: `id (32) ‖ u32 c ‖
    /// u8 sigPkPrefix ‖ sigPkX (32) ‖ rAddr (20) ‖ y (32)` = 121. No timestamp: DESIGN §4.4 fixes it
    /// to the interval's last second, so the ledger supplies it (a meter that signed another one
    /// fails the signature check).
    uint256 internal constant OCD_CALLDATA_SIZE = 121;
    /// @dev Bytes per bill in `BillBatchPosted` and in the packed calldata of
    /// {IBillingLedger.postBills}: `id (32) ‖ u64 c ‖ u64 T ‖ u64 B` = 56. One layout for both, so
    /// the event carries the calldata unchanged (issue 14: 56 calldata bytes per bill, not the
    /// 128 of an ABI-encoded struct).
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

    /// @notice Checks packed bill `index` of `bills` (`B == p_j × c`), folds `(id, c)` into the
    /// running bill digest and returns the bill's §4.4 digest (kind 2, value = B). The caller got
    /// `index < n` from {billCount}.
    function acceptBill(
        BillContext memory ctx,
        bytes calldata bills,
        uint256 index
    ) internal pure returns (bytes32 m) {
        bytes32 id;
        uint64 c;
        uint64 ts;
        uint64 bill;
        // Reads only: bill `index` is bytes [56·index, 56·index + 56) of `bills`, inside it since
        // index < length / 56. The second word's last 8 bytes lie past the bill (the next bill, the
        // ABI padding or zeros past calldata's end) and are shifted off; u64 fields read with
        // shifts and masks cannot carry dirty bits.
        assembly ("memory-safe") {
            let p := add(bills.offset, mul(index, BILL_PACKED_SIZE))
            id := calldataload(p)
            let w := calldataload(add(p, 32))
            c := shr(192, w)
            ts := and(shr(128, w), 0xffffffffffffffff)
            bill := and(shr(64, w), 0xffffffffffffffff)
        }
        // price < 2^32 and c < 2^64: the product is computed in 256 bits and cannot overflow.
        if (bill != uint256(ctx.price) * c) {
            revert IBillingLedger.BillingLedgerInvalidEntry(
                ctx.interval,
                index,
                EntryProblem.BillMismatch
            );
        }
        m = digest(ctx.domain, EntryDigest.KIND_BC, ctx.interval, id, ts, bill);
        ctx.acc = chain(ctx.acc, id, c);
        // Each bill < 2^64 and fewer than 2^32 bills: the total stays below 2^96.
        unchecked {
            ctx.total += bill;
        }
    }

    /// @notice The number of packed bills in `bills` (calldata of {IBillingLedger.postBills});
    /// reverts {IBillingLedger.BillingLedgerPackedLength} unless its length is a whole multiple of
    /// {BILL_PACKED_SIZE} (a truncated bill or trailing bytes).
    function billCount(uint32 interval, bytes calldata bills) internal pure returns (uint256 n) {
        uint256 length = bills.length;
        n = length / BILL_PACKED_SIZE;
        if (n * BILL_PACKED_SIZE != length) {
            revert IBillingLedger.BillingLedgerPackedLength(interval, length);
        }
    }

    /// @notice The number of packed entries in `entries` (calldata of {IBillingLedger.postOcd});
    /// reverts {IBillingLedger.BillingLedgerPackedLength} unless its length is a whole multiple of
    /// {OCD_CALLDATA_SIZE} (a truncated entry or trailing bytes).
    function packedCount(
        uint32 interval,
        bytes calldata entries
    ) internal pure returns (uint256 n) {
        uint256 length = entries.length;
        n = length / OCD_CALLDATA_SIZE;
        if (n * OCD_CALLDATA_SIZE != length) {
            revert IBillingLedger.BillingLedgerPackedLength(interval, length);
        }
    }

    /// @notice Expands the packed `entries` into `records`, one 133-byte event record per entry,
    /// each with the timestamp `ts` the ledger fixes (DESIGN §4.4). Decoding only: the checks are
    /// {acceptRun}'s. The caller got `n` from {packedCount} and sized `records` for `n` records.
    function unpackOcd(
        bytes memory records,
        bytes calldata entries,
        uint256 n,
        uint64 ts
    ) internal pure {
        // Memory-safe: writes only inside `records` (record i is bytes [133·i, 133·i + 133) of
        // its data, i < n), in increasing offset order. Calldata reads stay inside `entries`:
        // i < n = length / 121 and the ABI decoder checked that `entries` lies within calldata.
        // A u32 read (shr 224) and fields copied verbatim cannot carry dirty bits: nothing to
        // validate. `i < n` and n·133 was allocated: no overflow.
        assembly ("memory-safe") {
            let tsWord := shl(192, ts)
            let p := add(records, 32)
            let src := entries.offset
            for {
                let end := add(p, mul(n, OCD_PACKED_SIZE))
            } lt(p, end) {
                p := add(p, OCD_PACKED_SIZE)
                src := add(src, OCD_CALLDATA_SIZE)
            } {
                mstore(p, calldataload(src))
                mstore(add(p, 32), tsWord)
                // u32 c widened to the record's u64.
                mstore(add(p, 40), shl(192, shr(224, calldataload(add(src, 32)))))
                // prefix ‖ x ‖ rAddr ‖ y: the same 85 bytes, in the same order, in both layouts.
                calldatacopy(add(p, 48), add(src, 36), 85)
            }
        }
    }

    /// @notice Checks records `i, i + 1, …` of `records` (written by {packOcd} or {unpackOcd}),
    /// folding each into the running commitments (`lastId`, `acc`, `sum`), until record `n` or,
    /// when `limit ≠ 0`, until the first record whose pseudonym is not below `limit` (the next
    /// zero slot's, which then goes first); returns the index it stopped at. Reverts with
    /// {IBillingLedger.BillingLedgerInvalidEntry} naming the first failed check of an entry, in this
    /// order: pseudonym order (strictly increasing: O(1) uniqueness), category value (DESIGN §7),
    /// timestamp `end − 1` (DESIGN §4.4), meter signature over the §4.4 digest (DESIGN §4.3).
    /// @dev One assembly loop: per entry it is the §4.4 digest, {SchnorrVerifier.tryVerify}'s
    /// challenge and `ecrecover`, and the running digest step of {chain}, with the same results
    /// for every input (differentially fuzzed against {EntryDigest.digest},
    /// {SchnorrVerifier.tryVerify} and {chain} in test/ledger/OcdPacked.t.sol); the Solidity form
    /// spent ≈ 1,700 gas per entry on calls and stack shuffling.
    function acceptRun(
        Context memory ctx,
        bytes memory records,
        uint256 i,
        uint256 n,
        bytes32 limit
    ) internal view returns (uint256) {
        bytes32 lastId = ctx.lastId;
        bytes32 acc = ctx.acc;
        uint256 sum = ctx.sum;
        uint256 problem;
        {
            bytes32 domain = ctx.domain;
            uint32 interval = ctx.interval;
            // Memory-safe: writes scratch memory past the free pointer (never allocated): the
            // 37-byte prefix `domain ‖ u8 0 (KIND_OCD) ‖ u32 j` of every entry's §4.4 digest.
            assembly ("memory-safe") {
                let q := mload(0x40)
                mstore(q, domain)
                mstore(add(q, 32), shl(216, interval))
            }
        }
        {
            uint32[5] memory cats = ctx.categories;
            uint64 ts = ctx.timestamp;
            // Memory-safe: reads `records` (i < n, and the caller sized `records` for n records)
            // and `cats`; writes only scratch memory past the free pointer, [q, q + 224) with
            // q = mload(0x40) (never allocated, dead after this block; the digest prefix at q was
            // written above), and the scratch word at 0x00.
            assembly ("memory-safe") {
                // Whether the record at p carries a valid signature over the digest whose
                // preimage `domain ‖ u8 0 ‖ u32 j ‖ id ‖ u64 T ‖ u64 c` is built at q.
                function verified(p) -> valid {
                    let q := mload(0x40)
                    // The secp256k1 group order (SchnorrVerifier.N).
                    let order := 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
                    let prefix := byte(0, mload(add(p, 48)))
                    let x := mload(add(p, 49))
                    let rAddr := shr(96, mload(add(p, 81)))
                    let y := mload(add(p, 101))
                    // DESIGN §4.3 input rejections, as tryVerify: y and x in [1, n − 1] (v − 1
                    // wraps for v = 0), rAddr ≠ 0 (ecrecover's failure value), prefix 2 or 3.
                    valid := and(
                        and(lt(sub(y, 1), sub(order, 1)), lt(sub(x, 1), sub(order, 1))),
                        and(iszero(iszero(rAddr)), lt(sub(prefix, 2), 2))
                    )
                    if valid {
                        // m: the preimage's last 48 bytes are the record's first 48.
                        mcopy(add(q, 37), p, 48)
                        let m := keccak256(q, 85)
                        // c = keccak256(rAddr ‖ prefix ‖ x ‖ m) mod n, hashed at q + 96.
                        let h := add(q, 96)
                        mstore(h, shl(96, rAddr))
                        mstore8(add(h, 20), prefix)
                        mstore(add(h, 21), x)
                        mstore(add(h, 53), m)
                        let cx := mulmod(mod(keccak256(h, 85), order), x, order)
                        // c·x ≡ 0 only if c = 0 (probability 2^-256): refused, as tryVerify.
                        valid := iszero(iszero(cx))
                        // ecrecover(n − y·x, prefix + 25, x, n − c·x) = addr(y·G − c·Z). Both
                        // subtractions stay in [1, n]: y·x mod n ≠ 0 (x, y in [1, n − 1], n
                        // prime); for cx = 0 the result is discarded by `valid` above.
                        mstore(h, sub(order, mulmod(y, x, order)))
                        mstore(add(h, 32), add(prefix, 25))
                        mstore(add(h, 64), x)
                        mstore(add(h, 96), sub(order, cx))
                        // The precompile writes nothing when it fails: clear the output first.
                        mstore(0x00, 0)
                        let ok := staticcall(gas(), 1, h, 128, 0x00, 32)
                        valid := and(valid, and(ok, eq(mload(0x00), rAddr)))
                    }
                }
                // `i < n`: the loop variable cannot overflow.
                for {} lt(i, n) {
                    i := add(i, 1)
                } {
                    // 133 = OCD_PACKED_SIZE.
                    let p := add(add(records, 32), mul(i, 133))
                    let id := mload(p)
                    // limit 0: no zero slot follows (the caller refuses a zero slot with id 0).
                    if and(iszero(iszero(limit)), iszero(lt(id, limit))) {
                        break
                    }
                    // Problems are 1 + EntryProblem: 4 PseudonymNotIncreasing, 2
                    // NotACategoryValue, 3 TimestampNotIntervalEnd, 1 BadSignature.
                    if iszero(gt(id, lastId)) {
                        problem := 4
                        break
                    }
                    // c, the record's u64 consumption, re-read where needed (stack depth).
                    if iszero(
                        or(
                            or(
                                eq(shr(192, mload(add(p, 40))), mload(cats)),
                                eq(shr(192, mload(add(p, 40))), mload(add(cats, 32)))
                            ),
                            or(
                                or(
                                    eq(shr(192, mload(add(p, 40))), mload(add(cats, 64))),
                                    eq(shr(192, mload(add(p, 40))), mload(add(cats, 96)))
                                ),
                                eq(shr(192, mload(add(p, 40))), mload(add(cats, 128)))
                            )
                        )
                    ) {
                        problem := 2
                        break
                    }
                    if iszero(eq(shr(192, mload(add(p, 32))), ts)) {
                        problem := 3
                        break
                    }
                    if iszero(verified(p)) {
                        problem := 1
                        break
                    }
                    // acc = keccak256(acc ‖ id ‖ u64 c) ({chain}), hashed at q + 96.
                    let h := add(mload(0x40), 96)
                    mstore(h, acc)
                    mstore(add(h, 32), id)
                    // u64 c: the record's bytes 40..48.
                    mcopy(add(h, 64), add(p, 40), 8)
                    acc := keccak256(h, 72)
                    // c < 2^32 (a category value) and fewer than 2^32 entries: no overflow of
                    // the u128 sum.
                    sum := add(sum, shr(192, mload(add(p, 40))))
                    lastId := id
                }
            }
        }
        if (problem != 0) {
            revert IBillingLedger.BillingLedgerInvalidEntry(
                ctx.interval,
                i,
                EntryProblem(problem - 1)
            );
        }
        ctx.lastId = lastId;
        ctx.acc = acc;
        // sum < 2^128: see the loop.
        ctx.sum = uint128(sum);
        return i;
    }

    /// @notice Writes the ABI-encoded OCD entry `e` as record `index` (133 bytes) of `records`.
    /// Reverts without data, as Solidity's ABI decoder does, if a field has dirty high bits (a
    /// u64, u8 or address word out of range): the record must hold exactly what was signed.
    function packOcd(bytes memory records, uint256 index, OcdEntry calldata e) internal pure {
        assembly ("memory-safe") {
            let ts := calldataload(add(e, 32))
            let c := calldataload(add(e, 64))
            let prefix := calldataload(add(e, 96))
            let rAddr := calldataload(add(e, 160))
            if or(or(shr(64, ts), shr(64, c)), or(shr(8, prefix), shr(160, rAddr))) {
                revert(0, 0)
            }
            // Memory-safe: writes only inside record `index` (allocated by the caller), fields in
            // increasing offset order: each store overwrites the previous one's zero tail.
            let p := add(add(records, 32), mul(index, OCD_PACKED_SIZE))
            mstore(p, calldataload(e))
            mstore(add(p, 32), shl(192, ts))
            mstore(add(p, 40), shl(192, c))
            mstore8(add(p, 48), prefix)
            mstore(add(p, 49), calldataload(add(e, 128)))
            mstore(add(p, 81), shl(96, rAddr))
            mstore(add(p, 101), calldataload(add(e, 192)))
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
