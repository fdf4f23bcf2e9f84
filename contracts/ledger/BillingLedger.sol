// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ParticipantDirectory} from "../access/ParticipantDirectory.sol";
import {
    IBillingLedger,
    IntervalState,
    DeliveryMode,
    EntryProblem,
    OcdEntry,
    DapEntry,
    IntervalRecord
} from "../interfaces/IBillingLedger.sol";
import {EntryDigest} from "../libraries/EntryDigest.sol";
import {SchnorrVerifier} from "../libraries/SchnorrVerifier.sol";
import {OcdBatch} from "../libraries/OcdBatch.sol";
import {Tariff} from "../libraries/Tariff.sol";

/// @title BillingLedger
/// @notice The OCD, DAP and BC ledgers of Oksuz 2020 §5–§6 with on-chain enforcement (DESIGN §2).
/// See {IBillingLedger} for the specification and docs/PROTOCOL.md for the byte layouts.
contract BillingLedger is ParticipantDirectory, IBillingLedger {
    using Tariff for Tariff.Schedule;

    /// @dev Kind of the message SP signs once per bill batch (distinct from the entry kinds 0–2
    /// of DESIGN §4.4, so a batch signature is never a valid signature on a single entry).
    uint8 internal constant KIND_BC_BATCH = 3;
    /// @dev Largest `K` (DESIGN §7 sizes it from the category values: ≈ 8 today).
    uint16 public constant MAX_SLOTS_PER_METER = 64;
    uint32 private _tariffVersion;
    DeliveryMode private _deliveryMode;
    uint16 private _slotsPerMeter;
    uint32[5] private _categoryValues;
    mapping(uint32 version => Tariff.Schedule) private _tariffs;
    mapping(uint32 interval => IntervalRecord) private _intervals;

    constructor(
        address admin,
        address controlCenter,
        address serviceProvider
    ) ParticipantDirectory(admin, controlCenter, serviceProvider) {
        // Only the control center hands its role on (key rotation): an admin that grants itself
        // CC_ROLE to post entries is refused (AccessControlUnauthorizedAccount).
        _setRoleAdmin(CC_ROLE, CC_ROLE);
    }

    // -------------------------------------------------------------------------------------------
    // Configuration
    // -------------------------------------------------------------------------------------------

    /// @inheritdoc IBillingLedger
    function setTariff(
        uint64[] calldata breakpointsWh,
        uint64[] calldata values,
        uint64 cap
    ) external onlyRole(DEFAULT_ADMIN_ROLE) returns (uint32 version) {
        Tariff.validate(breakpointsWh, values, cap);
        version = _tariffVersion + 1;
        Tariff.Schedule storage schedule = _tariffs[version];
        schedule.breakpointsWh = breakpointsWh;
        schedule.values = values;
        schedule.cap = cap;
        _tariffVersion = version;
        emit TariffSet(version, breakpointsWh, values, cap);
    }

    /// @inheritdoc IBillingLedger
    function setCategoryValues(uint32[5] calldata values) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (values[0] == 0) revert BillingLedgerInvalidCategoryValues(values);
        for (uint256 i = 1; i < 5; ++i) {
            if (values[i] <= values[i - 1]) revert BillingLedgerInvalidCategoryValues(values);
        }
        _categoryValues = values;
        emit CategoryValuesSet(values);
    }

    /// @inheritdoc IBillingLedger
    function setDeliveryMode(DeliveryMode mode) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _deliveryMode = mode;
        emit DeliveryModeSet(mode);
    }

    /// @inheritdoc IBillingLedger
    function setSlotsPerMeter(uint16 slotsPerMeter_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (slotsPerMeter_ == 0 || slotsPerMeter_ > MAX_SLOTS_PER_METER) {
            revert BillingLedgerInvalidSlotsPerMeter(slotsPerMeter_);
        }
        _slotsPerMeter = slotsPerMeter_;
        emit SlotsPerMeterSet(slotsPerMeter_);
    }

    // -------------------------------------------------------------------------------------------
    // Life cycle
    // -------------------------------------------------------------------------------------------

    /// @inheritdoc IBillingLedger
    function openInterval(uint32 interval, uint64 start, uint64 end) external onlyRole(CC_ROLE) {
        IntervalRecord storage rec = _intervals[interval];
        if (rec.state != IntervalState.None) revert BillingLedgerIntervalState(interval, rec.state);
        if (start >= end) revert BillingLedgerInvalidWindow(start, end);
        uint32 version = _tariffVersion;
        uint32[5] memory categories = _categoryValues;
        uint16 k = _slotsPerMeter;
        if (version == 0 || categories[0] == 0 || k == 0) revert BillingLedgerNotConfigured();
        DeliveryMode mode = _deliveryMode;
        // Checked: K ≤ 64 and fewer than 2^26 meters keep K × meters below 2^32; more reverts.
        rec.expectedSlots = uint32(uint256(k) * _registeredMeters());
        rec.state = IntervalState.Open;
        rec.mode = mode;
        rec.tariffVersion = version;
        rec.start = start;
        rec.end = end;
        rec.categoryValues = categories;
        emit IntervalOpened(interval, start, end, version, categories, mode);
    }

    /// @inheritdoc IBillingLedger
    function postOcd(
        uint32 interval,
        bytes calldata entries,
        bytes32[] calldata zeroIds
    ) external onlyRole(CC_ROLE) {
        (IntervalRecord storage rec, OcdBatch.Context memory ctx) = _ocdContext(interval);
        uint256 n = OcdBatch.packedCount(interval, entries);
        bytes memory records = new bytes(n * OcdBatch.OCD_PACKED_SIZE);
        OcdBatch.unpackOcd(records, entries, n, ctx.timestamp);
        _postRecords(rec, ctx, records, n, zeroIds);
    }

    /// @inheritdoc IBillingLedger
    function postOcdAfter(
        uint32 interval,
        bytes32 predecessor,
        bytes calldata entries,
        bytes32[] calldata zeroIds
    ) external onlyRole(CC_ROLE) {
        (IntervalRecord storage rec, OcdBatch.Context memory ctx) = _ocdContext(interval);
        if (ctx.lastId != predecessor) {
            revert BillingLedgerPredecessorMismatch(interval, predecessor, ctx.lastId);
        }
        uint256 n = OcdBatch.packedCount(interval, entries);
        bytes memory records = new bytes(n * OcdBatch.OCD_PACKED_SIZE);
        OcdBatch.unpackOcd(records, entries, n, ctx.timestamp);
        _postRecords(rec, ctx, records, n, zeroIds);
    }

    /// @inheritdoc IBillingLedger
    function postOcdBatch(uint32 interval, OcdEntry[] calldata entries) external onlyRole(CC_ROLE) {
        bytes32[] calldata none;
        // An empty calldata array (offset 0, length 0): never read.
        assembly ("memory-safe") {
            none.offset := 0
            none.length := 0
        }
        _postStructs(interval, entries, none);
    }

    /// @inheritdoc IBillingLedger
    function postSlots(
        uint32 interval,
        OcdEntry[] calldata entries,
        bytes32[] calldata zeroIds
    ) external onlyRole(CC_ROLE) {
        _postStructs(interval, entries, zeroIds);
    }

    /// @dev The ABI-struct forms: each entry becomes its event record, then the same checks as
    /// {postOcd}.
    function _postStructs(
        uint32 interval,
        OcdEntry[] calldata entries,
        bytes32[] calldata zeroIds
    ) private {
        (IntervalRecord storage rec, OcdBatch.Context memory ctx) = _ocdContext(interval);
        uint256 n = entries.length;
        bytes memory records = new bytes(n * OcdBatch.OCD_PACKED_SIZE);
        for (uint256 i = 0; i < n; ++i) OcdBatch.packOcd(records, i, entries[i]);
        _postRecords(rec, ctx, records, n, zeroIds);
    }

    /// @dev The interval's record, which must be Open, and the batch context loaded from it.
    function _ocdContext(
        uint32 interval
    ) private view returns (IntervalRecord storage rec, OcdBatch.Context memory ctx) {
        rec = _intervals[interval];
        if (rec.state != IntervalState.Open) revert BillingLedgerIntervalState(interval, rec.state);
        ctx = OcdBatch.Context({
            domain: EntryDigest.domainSeparator(block.chainid, address(this)),
            interval: interval,
            // end > start ≥ 0 was checked at open: no underflow.
            timestamp: rec.end - 1,
            categories: rec.categoryValues,
            lastId: rec.lastId,
            acc: rec.ocdDigest,
            sum: rec.sumWh
        });
    }

    /// @dev Real entries (as `n` event records) and zero slots merged in one strictly increasing
    /// pseudonym order; checks every real entry ({OcdBatch.acceptRecord}), then commits and emits.
    function _postRecords(
        IntervalRecord storage rec,
        OcdBatch.Context memory ctx,
        bytes memory records,
        uint256 n,
        bytes32[] calldata zeroIds
    ) private {
        uint32 interval = ctx.interval;
        uint256 z = zeroIds.length;
        if (n + z == 0) revert BillingLedgerEmptyBatch(interval);
        uint32 firstIndex = rec.ocdCount;
        uint32 firstZero = rec.zeroCount;
        {
            uint256 slots = uint256(firstIndex) + firstZero + n + z;
            if (slots > rec.expectedSlots) {
                revert BillingLedgerSlotCount(interval, slots, rec.expectedSlots);
            }
        }
        bytes memory packedZero = new bytes(z * 32);
        uint256 i = 0;
        // Merge: the real entries below the next zero slot's pseudonym, then that zero slot
        // (equal ids: the zero slot goes first and the real entry fails the order check).
        for (uint256 k = 0; ;) {
            bytes32 id = k < z ? zeroIds[k] : bytes32(0);
            // A zero slot with pseudonym 0 can follow nothing (lastId ≥ 0): it is refused before
            // any further real entry, as when it led the merge. Past it, `id = 0` means "no zero
            // slot left" to acceptRun.
            if (k < z && id == 0) {
                revert BillingLedgerInvalidEntry(
                    interval,
                    n + k,
                    EntryProblem.PseudonymNotIncreasing
                );
            }
            if (i < n) i = OcdBatch.acceptRun(ctx, records, i, n, id);
            // k == z: the unbounded run above accepted every remaining entry (or reverted).
            if (k == z) break;
            if (id <= ctx.lastId) {
                revert BillingLedgerInvalidEntry(
                    interval,
                    n + k,
                    EntryProblem.PseudonymNotIncreasing
                );
            }
            ctx.lastId = id;
            // Memory-safe: k < z and `packedZero` holds z words.
            assembly ("memory-safe") {
                mstore(add(add(packedZero, 32), shl(5, k)), id)
            }
            // k < z ≤ zeroIds.length: no overflow.
            unchecked {
                ++k;
            }
        }
        // n + z ≤ expectedSlots < 2^32 was checked above.
        rec.lastId = ctx.lastId;
        if (n > 0) {
            rec.ocdCount = firstIndex + uint32(n);
            rec.sumWh = ctx.sum;
            rec.ocdDigest = ctx.acc;
            emit OcdBatchPosted(interval, firstIndex, uint32(n), records);
        }
        if (z > 0) {
            rec.zeroCount = firstZero + uint32(z);
            emit OcdZeroSlotsPosted(interval, firstZero, uint32(z), packedZero);
        }
    }

    /// @inheritdoc IBillingLedger
    function sealInterval(uint32 interval) external onlyRole(CC_ROLE) {
        IntervalRecord storage rec = _intervals[interval];
        if (rec.state != IntervalState.Open) revert BillingLedgerIntervalState(interval, rec.state);
        // Exactly K slots of every meter registered at opening: a fabricated entry displaces one.
        uint256 slots = uint256(rec.ocdCount) + rec.zeroCount;
        if (slots != rec.expectedSlots) {
            revert BillingLedgerSlotCount(interval, slots, rec.expectedSlots);
        }
        rec.state = IntervalState.OcdSealed;
        emit OcdSealed(interval, rec.ocdCount, rec.sumWh, rec.ocdDigest);
    }

    /// @inheritdoc IBillingLedger
    function postDap(uint32 interval, DapEntry[] calldata entries) external {
        IntervalRecord storage rec = _intervals[interval];
        DeliveryMode mode = rec.mode;
        _checkPublisher(mode);
        IntervalState state = rec.state;
        uint256 n = entries.length;
        if (mode == DeliveryMode.Relayed) {
            if (state != IntervalState.OcdSealed)
                revert BillingLedgerIntervalState(interval, state);
            if (n != 1) revert BillingLedgerDapCount(interval, n);
        } else {
            if (state != IntervalState.OcdSealed && state != IntervalState.Priced) {
                revert BillingLedgerIntervalState(interval, state);
            }
            if (rec.dapClosed) revert BillingLedgerDapClosed(interval);
            if (n == 0) revert BillingLedgerEmptyBatch(interval);
        }
        (uint8 spPrefix, ) = _serviceProviderSigKey();
        if (spPrefix == 0) revert BillingLedgerNotConfigured();

        uint64 price =
            state == IntervalState.OcdSealed
                ? _tariffs[rec.tariffVersion].priceOf(rec.sumWh)
                : rec.price;
        bytes32 domain = EntryDigest.domainSeparator(block.chainid, address(this));
        bytes32 lastDapId = rec.lastDapId;
        for (uint256 i = 0; i < n; ++i) {
            DapEntry calldata e = entries[i];
            // One DAP entry per id: strictly increasing across the interval's batches (O(1)).
            if (e.id <= lastDapId) {
                revert BillingLedgerInvalidEntry(interval, i, EntryProblem.PseudonymNotIncreasing);
            }
            lastDapId = e.id;
            _acceptDap(domain, interval, price, e, i);
        }
        // Relayed mode posts one entry, once (OcdSealed → Priced): no need to store its id.
        if (mode == DeliveryMode.Direct) rec.lastDapId = lastDapId;
        // Checked: reverts (panic) past 2^32 − 1 DAP entries.
        rec.dapCount += uint32(n);
        if (state == IntervalState.OcdSealed) {
            rec.price = price;
            rec.state = IntervalState.Priced;
            emit IntervalPriced(interval, price, rec.sumWh, rec.tariffVersion);
        }
    }

    /// @inheritdoc IBillingLedger
    function postBills(uint32 interval, bytes calldata bills, address rAddr, uint256 y) external {
        IntervalRecord storage rec = _intervals[interval];
        _checkPublisher(rec.mode);
        IntervalState state = rec.state;
        if (state != IntervalState.Priced && state != IntervalState.Billing) {
            revert BillingLedgerIntervalState(interval, state);
        }
        uint256 n = OcdBatch.billCount(interval, bills);
        if (n == 0) revert BillingLedgerEmptyBatch(interval);
        uint32 firstIndex = rec.billCount;
        uint32 ocdCount = rec.ocdCount;
        if (firstIndex + n > ocdCount) {
            revert BillingLedgerTooManyBills(interval, firstIndex + n, ocdCount);
        }

        OcdBatch.BillContext memory ctx = OcdBatch.BillContext({
            domain: EntryDigest.domainSeparator(block.chainid, address(this)),
            interval: interval,
            price: rec.price,
            acc: rec.billDigest,
            total: rec.billedTotal
        });
        // SP signs the batch once (docs/PROTOCOL.md, "BC batch signature").
        _verifyBillBatch(
            ctx.domain,
            interval,
            _acceptBills(ctx, bills, n),
            firstIndex,
            n,
            rAddr,
            y
        );
        // firstIndex + n ≤ ocdCount < 2^32 was checked above.
        rec.billCount = firstIndex + uint32(n);
        rec.billDigest = ctx.acc;
        rec.billedTotal = ctx.total;
        // The first bill batch closes the DAP ledger for good (same slot as billedTotal).
        rec.dapClosed = true;
        if (state == IntervalState.Priced) rec.state = IntervalState.Billing;
        // The calldata layout is the event's (OcdBatch.BILL_PACKED_SIZE): the checked bytes as sent.
        emit BillBatchPosted(interval, firstIndex, uint32(n), rAddr, y, bills);
    }

    /// @dev Checks the `n` packed bills of `bills` in order ({OcdBatch.acceptBill}, updating
    /// `ctx`) and returns `keccak256(m_1 ‖ … ‖ m_n)` of their §4.4 digests, the batch message's
    /// hash. A function of its own for the stack: `bills` takes two slots.
    function _acceptBills(
        OcdBatch.BillContext memory ctx,
        bytes calldata bills,
        uint256 n
    ) private pure returns (bytes32) {
        bytes memory digests = new bytes(n * 32);
        for (uint256 i = 0; i < n; ++i) {
            bytes32 m = OcdBatch.acceptBill(ctx, bills, i);
            assembly ("memory-safe") {
                mstore(add(add(digests, 32), shl(5, i)), m)
            }
        }
        return keccak256(digests);
    }

    /// @inheritdoc IBillingLedger
    function restartBilling(uint32 interval) external {
        IntervalRecord storage rec = _intervals[interval];
        _checkPublisher(rec.mode);
        if (rec.state != IntervalState.Billing)
            revert BillingLedgerIntervalState(interval, rec.state);
        uint32 discarded = rec.billCount;
        rec.billCount = 0;
        rec.billDigest = bytes32(0);
        rec.billedTotal = 0;
        rec.state = IntervalState.Priced;
        emit BillingRestarted(interval, discarded);
    }

    /// @inheritdoc IBillingLedger
    function closeBilling(uint32 interval) external {
        IntervalRecord storage rec = _intervals[interval];
        _checkPublisher(rec.mode);
        IntervalState state = rec.state;
        if (state != IntervalState.Priced && state != IntervalState.Billing) {
            revert BillingLedgerIntervalState(interval, state);
        }
        uint32 billCount = rec.billCount;
        if (billCount != rec.ocdCount) {
            revert BillingLedgerBillsIncomplete(interval, billCount, rec.ocdCount);
        }
        bytes32 billDigest = rec.billDigest;
        if (billDigest != rec.ocdDigest) {
            revert BillingLedgerBillDigestMismatch(interval, billDigest, rec.ocdDigest);
        }
        rec.state = IntervalState.Final;
        emit IntervalFinalized(interval, billCount, rec.billedTotal, billDigest);
    }

    // -------------------------------------------------------------------------------------------
    // Views
    // -------------------------------------------------------------------------------------------

    /// @inheritdoc IBillingLedger
    function domainSeparator() external view returns (bytes32) {
        return EntryDigest.domainSeparator(block.chainid, address(this));
    }

    /// @inheritdoc IBillingLedger
    function priceFor(uint256 aggregateWh) external view returns (uint64) {
        uint32 version = _tariffVersion;
        if (version == 0) revert BillingLedgerNotConfigured();
        return _tariffs[version].priceOf(aggregateWh);
    }

    /// @inheritdoc IBillingLedger
    function priceForVersion(uint32 version, uint256 aggregateWh) external view returns (uint64) {
        if (version == 0 || version > _tariffVersion) revert BillingLedgerUnknownTariff(version);
        return _tariffs[version].priceOf(aggregateWh);
    }

    /// @inheritdoc IBillingLedger
    function tariffVersion() external view returns (uint32) {
        return _tariffVersion;
    }

    /// @inheritdoc IBillingLedger
    function tariff(
        uint32 version
    ) external view returns (uint64[] memory breakpointsWh, uint64[] memory values, uint64 cap) {
        if (version == 0 || version > _tariffVersion) revert BillingLedgerUnknownTariff(version);
        Tariff.Schedule storage schedule = _tariffs[version];
        return (schedule.breakpointsWh, schedule.values, schedule.cap);
    }

    /// @inheritdoc IBillingLedger
    function categoryValues() external view returns (uint32[5] memory) {
        return _categoryValues;
    }

    /// @inheritdoc IBillingLedger
    function deliveryMode() external view returns (DeliveryMode) {
        return _deliveryMode;
    }

    /// @inheritdoc IBillingLedger
    function slotsPerMeter() external view returns (uint16) {
        return _slotsPerMeter;
    }

    /// @inheritdoc IBillingLedger
    function intervalRecord(uint32 interval) external view returns (IntervalRecord memory) {
        return _intervals[interval];
    }

    // -------------------------------------------------------------------------------------------
    // Internals
    // -------------------------------------------------------------------------------------------

    /// @dev DAP and BC are published by CC in relayed mode and by SP in direct mode.
    function _checkPublisher(DeliveryMode mode) private view {
        _checkRole(mode == DeliveryMode.Relayed ? CC_ROLE : SP_ROLE);
    }

    /// @dev Verifies SP's signature on `digest(domain, 3, j, batchRoot, u64 firstIndex, u64 n)`.
    function _verifyBillBatch(
        bytes32 domain,
        uint32 interval,
        bytes32 batchRoot,
        uint32 firstIndex,
        uint256 n,
        address rAddr,
        uint256 y
    ) private view {
        bytes32 batchMessage = EntryDigest.digest(
            domain,
            KIND_BC_BATCH,
            interval,
            batchRoot,
            firstIndex,
            uint64(n)
        );
        (uint8 spPrefix, uint256 spX) = _serviceProviderSigKey();
        if (spPrefix == 0) revert BillingLedgerNotConfigured();
        if (!SchnorrVerifier.tryVerify(spPrefix, spX, batchMessage, rAddr, y)) {
            revert BillingLedgerInvalidBatchSignature(interval, firstIndex);
        }
    }

    /// @dev Checks DAP entry `index` (price and SP signature, kind 1) and emits it.
    function _acceptDap(
        bytes32 domain,
        uint32 interval,
        uint64 price,
        DapEntry calldata e,
        uint256 index
    ) private {
        if (e.price != price) {
            revert BillingLedgerInvalidEntry(interval, index, EntryProblem.PriceMismatch);
        }
        bytes32 m = EntryDigest.digest(
            domain,
            EntryDigest.KIND_DAP,
            interval,
            e.id,
            e.timestamp,
            price
        );
        (uint8 spPrefix, uint256 spX) = _serviceProviderSigKey();
        if (!SchnorrVerifier.tryVerify(spPrefix, spX, m, e.rAddr, e.y)) {
            revert BillingLedgerInvalidEntry(interval, index, EntryProblem.BadSignature);
        }
        emit DapPosted(interval, e.id, e.timestamp, price, e.rAddr, e.y);
    }
}
