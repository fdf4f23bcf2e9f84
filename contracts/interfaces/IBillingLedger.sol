// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IParticipantDirectory} from "./IParticipantDirectory.sol";

/// @notice Life cycle of an interval `j` (DESIGN §2): `None → Open → OcdSealed → Priced → Billing
/// → Final`. `None` means the interval was never opened.
enum IntervalState {
    None,
    Open,
    OcdSealed,
    Priced,
    Billing,
    Final
}

/// @notice Who publishes an interval's DAP and BC ledgers. `Relayed` (Oksuz §5): SP signs, CC
/// posts one DAP entry (id = SP's pseudonym toward CC) and the bills. `Direct` (Oksuz §6): SP posts
/// itself, one DAP entry per user pseudonym (per-user SP pseudonyms, all with the same price).
/// The checks are identical; only the role allowed to post differs.
enum DeliveryMode {
    Relayed,
    Direct
}

/// @notice Why an entry of a batch was refused.
enum EntryProblem {
    /// The Schnorr signature does not verify over the entry's §4.4 digest.
    BadSignature,
    /// The consumption is not one of the interval's five category values (DESIGN §7).
    NotACategoryValue,
    /// The OCD timestamp is not the interval's last second `end − 1` (DESIGN §4.4: fixed by
    /// protocol, so timestamps cannot group a meter's entries).
    TimestampNotIntervalEnd,
    /// The pseudonym (OCD) or DAP id is not strictly greater than the interval's previous one.
    PseudonymNotIncreasing,
    /// The DAP price differs from the tariff's price for the interval's aggregate.
    PriceMismatch,
    /// The bill differs from `p_j × c`.
    BillMismatch
}

/// @notice Why a tariff was refused by {IBillingLedger.setTariff}.
enum TariffProblem {
    /// No breakpoints, more than `MAX_BREAKPOINTS`, or breakpoints and values differ in length.
    Length,
    /// The first breakpoint is not 0.
    FirstBreakpointNotZero,
    /// A breakpoint is not strictly greater than the previous one (index given).
    BreakpointNotIncreasing,
    /// A value is smaller than the previous one (the price must not fall as load grows).
    ValueDecreasing,
    /// A value or the cap exceeds `MAX_PRICE` (bills must fit a u64), or the cap is 0.
    ValueOutOfRange
}

/// @notice One meter report as posted by CC (DESIGN §4.4, kind 0; Oksuz Table 1). The signature
/// `(rAddr, y)` is the meter's per-message Schnorr signature under `sigPk` over the entry digest.
struct OcdEntry {
    bytes32 id;
    uint64 timestamp;
    uint64 consumptionWh;
    uint8 sigPkPrefix;
    uint256 sigPkX;
    address rAddr;
    uint256 y;
}

/// @notice One DAP entry (DESIGN §4.4, kind 1; Oksuz Tables 2 and 4), signed with `sigSk_SP`.
struct DapEntry {
    bytes32 id;
    uint64 timestamp;
    uint64 price;
    address rAddr;
    uint256 y;
}

/// @notice The stored commitments of an interval (entries themselves live in events).
struct IntervalRecord {
    IntervalState state;
    DeliveryMode mode;
    uint32 tariffVersion;
    uint64 start;
    uint64 end;
    /// @dev `p_j`, set when the interval is priced.
    uint64 price;
    uint32[5] categoryValues;
    /// @dev Real (signed, billed) OCD entries posted.
    uint32 ocdCount;
    uint32 billCount;
    uint32 dapCount;
    uint128 sumWh;
    /// @dev Zero-value slots posted: meters' dummies and CC's absence markers (DESIGN §7).
    uint32 zeroCount;
    uint128 billedTotal;
    /// @dev `K × (registered meters)` at opening: the interval seals only with exactly this many
    /// slots (`ocdCount + zeroCount`), so a fabricated entry must displace a meter's slot.
    uint32 expectedSlots;
    /// @dev Set by the first bill batch: the DAP ledger is closed for good (a {restartBilling}
    /// does not reopen it), so no price entry can appear after a bill was published.
    bool dapClosed;
    /// @dev The last accepted pseudonym (pseudonyms strictly increase within an interval).
    bytes32 lastId;
    /// @dev The last accepted DAP id (direct mode: one entry per user pseudonym, strictly
    /// increasing across the interval's DAP batches).
    bytes32 lastDapId;
    /// @dev `acc_k = keccak256(acc_{k−1} ‖ id_k ‖ u64 c_k)`, `acc_0 = 0`, over OCD entries in order.
    bytes32 ocdDigest;
    /// @dev The same running digest over the bills' `(id, c)`, in posting order.
    bytes32 billDigest;
}

/// @title IBillingLedger
/// @notice GridLedger's billing ledger (DESIGN §2, Oksuz 2020 §5–§6): the OCD, DAP and BC ledgers
/// of every interval `j`, with one life cycle `Open → OcdSealed → Priced → Billing → Final`.
/// Entries are emitted in events (a client rebuilds every ledger from logs alone, see
/// docs/PROTOCOL.md); storage keeps per-interval commitments. Meter signatures, the SP's
/// signatures, the tariff price and every bill are checked on-chain, so SP cannot misprice or
/// misbill and nobody can replay or alter a signed entry. A signature binds an entry to *a* key,
/// not to a meter: what stops CC from posting a report no meter made is that every registered
/// meter owns exactly K slots per interval (real entries, then zero slots), the interval seals
/// only with exactly `K × (registered meters)` of them, and each meter's user checks all K of its
/// (pseudonym, value) pairs against these events, with evidence if one differs (DESIGN §2, §4.2,
/// §7; docs/SECURITY.md "What the control center can and cannot do"). CC still vouches that a
/// pseudonym belongs to a registered meter, and only CC hands `CC_ROLE` on.
interface IBillingLedger is IParticipantDirectory {
    // ---------------------------------------------------------------------------------------
    // Errors
    // ---------------------------------------------------------------------------------------

    /// @notice The call is not allowed in the interval's current state (out-of-order step, or an
    /// interval opened twice). Fix: follow the life cycle; read {intervalRecord}.
    error BillingLedgerIntervalState(uint32 interval, IntervalState state);

    /// @notice Entry `index` (0-based within the batch) was refused for `problem`; the whole batch
    /// reverts. In {postSlots} and {postOcd}, `index ≥ (number of real entries)` names
    /// `zeroIds[index − (number of real entries)]`.
    /// Fix (CC): drop that entry and resubmit the rest (docs/PROTOCOL.md).
    error BillingLedgerInvalidEntry(uint32 interval, uint256 index, EntryProblem problem);

    /// @notice The packed `entries` of {postOcd} or `bills` of {postBills} are `length` bytes, not
    /// a whole number of 121-byte entries or 56-byte bills (a truncated entry or trailing bytes).
    /// Fix: encode with `encodeOcdPacked` or `encodeBillsPacked` (offchain/chain/billing.ts;
    /// docs/PROTOCOL.md "Packed OCD calldata", "Packed bill calldata").
    error BillingLedgerPackedLength(uint32 interval, uint256 length);

    /// @notice {postOcdAfter}: the batch was built to follow pseudonym `expected`, but the
    /// interval's last posted pseudonym is `lastId` (an earlier batch of the same pipeline was not
    /// mined, or reverted, or this batch was already posted). Nothing was posted. Fix (CC): read
    /// `intervalRecord(interval).lastId` and post what follows it (docs/SCALE.md "Posting at chain
    /// speed").
    error BillingLedgerPredecessorMismatch(uint32 interval, bytes32 expected, bytes32 lastId);

    /// @notice The batch is empty. Fix: post at least one entry.
    error BillingLedgerEmptyBatch(uint32 interval);

    /// @notice The time window is empty (`start >= end`).
    error BillingLedgerInvalidWindow(uint64 start, uint64 end);

    /// @notice Tariff or category values are not configured, or `sigPk_SP` is unset. Fix (admin):
    /// set them before opening (tariff, categories) or pricing (SP key) an interval.
    error BillingLedgerNotConfigured();

    /// @notice The tariff was refused: `problem` at `index`.
    error BillingLedgerInvalidTariff(TariffProblem problem, uint256 index);

    /// @notice Category values must satisfy `0 < c1 < c2 < c3 < c4 < c5`.
    error BillingLedgerInvalidCategoryValues(uint32[5] values);

    /// @notice No tariff with this version exists.
    error BillingLedgerUnknownTariff(uint32 version);

    /// @notice Relayed mode has exactly one DAP entry per interval (SP's pseudonym toward CC).
    error BillingLedgerDapCount(uint32 interval, uint256 count);

    /// @notice Posting would exceed, or sealing would miss, the interval's `K × (registered
    /// meters)` slots (DESIGN §7). Fix (CC): post exactly one entry, dummy or absence marker per
    /// slot of every registered meter.
    error BillingLedgerSlotCount(uint32 interval, uint256 slots, uint32 expectedSlots);

    /// @notice `K` must be in [1, MAX_SLOTS_PER_METER].
    error BillingLedgerInvalidSlotsPerMeter(uint16 slotsPerMeter);

    /// @notice The interval's DAP ledger is closed: a bill batch was posted (even if billing was
    /// restarted since). Fix (SP, direct mode): post every DAP entry before the first bills.
    error BillingLedgerDapClosed(uint32 interval);

    /// @notice The batch's SP signature does not verify under `sigPk_SP`.
    error BillingLedgerInvalidBatchSignature(uint32 interval, uint32 firstIndex);

    /// @notice More bills than sealed OCD entries. Fix: bill each OCD entry exactly once.
    error BillingLedgerTooManyBills(uint32 interval, uint256 billCount, uint32 ocdCount);

    /// @notice Closing found fewer bills than OCD entries.
    error BillingLedgerBillsIncomplete(uint32 interval, uint32 billCount, uint32 ocdCount);

    /// @notice Closing found bills whose `(id, c)` sequence differs from the OCD ledger (a skipped,
    /// duplicated, reordered or altered bill). Fix: {restartBilling} and post the correct bills.
    error BillingLedgerBillDigestMismatch(uint32 interval, bytes32 billDigest, bytes32 ocdDigest);

    // ---------------------------------------------------------------------------------------
    // Events (past tense; every ledger entry is in one of them)
    // ---------------------------------------------------------------------------------------

    /// @notice Tariff `version` was published (it applies to intervals opened from now on).
    event TariffSet(uint32 indexed version, uint64[] breakpointsWh, uint64[] values, uint64 cap);

    /// @notice Regional category values were set (they apply to intervals opened from now on).
    event CategoryValuesSet(uint32[5] values);

    /// @notice The delivery mode for intervals opened from now on was set.
    event DeliveryModeSet(DeliveryMode mode);

    /// @notice `K`, the report slots of every meter per interval, was set (intervals opened from
    /// now on expect `K × (registered meters)` slots).
    event SlotsPerMeterSet(uint16 slotsPerMeter);

    /// @notice CC opened interval `interval` with window `[start, end)` and the configuration
    /// snapshot it will use.
    event IntervalOpened(
        uint32 indexed interval,
        uint64 start,
        uint64 end,
        uint32 tariffVersion,
        uint32[5] categoryValues,
        DeliveryMode mode
    );

    /// @notice CC posted OCD entries `firstIndex … firstIndex + count − 1`. `entries` packs each
    /// entry in 133 bytes: `id (32) ‖ u64 T ‖ u64 c ‖ u8 sigPkPrefix ‖ sigPkX (32) ‖ rAddr (20) ‖
    /// y (32)`.
    event OcdBatchPosted(uint32 indexed interval, uint32 firstIndex, uint32 count, bytes entries);

    /// @notice CC posted zero-value slots: meters' signed dummies (checked by CC off-chain) and
    /// CC's absence markers for slots no report filled (DESIGN §7); indistinguishable on-chain.
    /// `ids` packs each slot's pseudonym in 32 bytes. They are not billed and not in `ocdDigest`;
    /// each id took its place in the interval's strictly increasing pseudonym order.
    event OcdZeroSlotsPosted(uint32 indexed interval, uint32 firstIndex, uint32 count, bytes ids);

    /// @notice The OCD ledger of `interval` is closed with these commitments.
    event OcdSealed(uint32 indexed interval, uint32 count, uint128 sumWh, bytes32 ocdDigest);

    /// @notice A DAP entry (kind 1) signed under `sigPk_SP` was accepted.
    event DapPosted(
        uint32 indexed interval,
        bytes32 id,
        uint64 timestamp,
        uint64 price,
        address rAddr,
        uint256 y
    );

    /// @notice The interval's price `p_j = tariff(Σc_j)` was fixed (first DAP entry).
    event IntervalPriced(
        uint32 indexed interval,
        uint64 price,
        uint128 sumWh,
        uint32 tariffVersion
    );

    /// @notice Bills `firstIndex … firstIndex + count − 1` were accepted; `(rAddr, y)` is SP's
    /// signature on the batch message (docs/PROTOCOL.md). `items` is the `bills` calldata of
    /// {postBills} as checked: each bill in 56 bytes, `id (32) ‖ u64 c ‖ u64 T ‖ u64 B`.
    event BillBatchPosted(
        uint32 indexed interval,
        uint32 firstIndex,
        uint32 count,
        address rAddr,
        uint256 y,
        bytes items
    );

    /// @notice The bills posted so far for `interval` were discarded (`discarded` of them).
    event BillingRestarted(uint32 indexed interval, uint32 discarded);

    /// @notice The BC ledger matches the OCD ledger entry for entry; the interval is final.
    event IntervalFinalized(
        uint32 indexed interval,
        uint32 count,
        uint128 billedTotal,
        bytes32 billDigest
    );

    // ---------------------------------------------------------------------------------------
    // Configuration (admin = regulator)
    // ---------------------------------------------------------------------------------------

    /// @notice Publishes a new tariff version: price per Wh as an integer piecewise-linear,
    /// non-decreasing function of the interval aggregate Σc (Wh), capped (docs/PROTOCOL.md).
    /// @param breakpointsWh `x_0 = 0 < x_1 < …` (at most `MAX_BREAKPOINTS`).
    /// @param values `v_0 ≤ v_1 ≤ …`, the price at each breakpoint, each ≤ `MAX_PRICE`.
    /// @param cap the ceiling `1 ≤ cap ≤ MAX_PRICE`.
    /// @return version the new version (1, 2, …).
    function setTariff(
        uint64[] calldata breakpointsWh,
        uint64[] calldata values,
        uint64 cap
    ) external returns (uint32 version);

    /// @notice Sets the region's category values `c1 < … < c5` (Wh, DESIGN §7).
    function setCategoryValues(uint32[5] calldata values) external;

    /// @notice Sets the delivery mode of intervals opened from now on.
    function setDeliveryMode(DeliveryMode mode) external;

    /// @notice Sets `K`, the public number of report slots every meter fills per interval (real
    /// chunks, then zero-value dummies; DESIGN §7), for intervals opened from now on.
    function setSlotsPerMeter(uint16 slotsPerMeter) external;

    // ---------------------------------------------------------------------------------------
    // Life cycle
    // ---------------------------------------------------------------------------------------

    /// @notice CC opens any unused interval `j` with window `[start, end)`; snapshots the current
    /// tariff version, category values, delivery mode and `K × (registered meters)` slots.
    function openInterval(uint32 interval, uint64 start, uint64 end) external;

    /// @notice CC posts real OCD entries and zero-value slots (state Open), the real entries in
    /// packed calldata: the same checks, commitments and events as {postSlots} at ≈ 700 gas less
    /// per entry (7,923 against 8,629 in a batch of 100; docs/BENCHMARKS.md). `entries` is `count × 121` bytes, each entry `id (32) ‖
    /// u32 c ‖ u8 sigPkPrefix ‖ sigPkX (32) ‖ rAddr (20) ‖ y (32)`; there is no timestamp field:
    /// the ledger uses the interval's last second `end − 1` (DESIGN §4.4), so an entry the meter
    /// signed with another timestamp fails as `EntryProblem.BadSignature`. `zeroIds` as in
    /// {postSlots}. Reverts {BillingLedgerPackedLength} if `entries.length` is not a multiple of
    /// 121, then as {postSlots}; `OcdBatchPosted` carries the same 133-byte records.
    function postOcd(uint32 interval, bytes calldata entries, bytes32[] calldata zeroIds) external;

    /// @notice {postOcd} that only applies right after pseudonym `predecessor`: reverts
    /// {BillingLedgerPredecessorMismatch} unless the interval's last posted pseudonym
    /// (`intervalRecord(interval).lastId`, zero before the first slot) equals `predecessor`, then
    /// behaves exactly as {postOcd}. With several transactions in flight (issue 14 "Posting at
    /// chain speed"), each batch names the last pseudonym of the batch before it, so a batch whose
    /// predecessor failed or was dropped cannot land after the gap: the ledger never skips a slot,
    /// and a batch already posted reverts instead of being posted twice.
    function postOcdAfter(
        uint32 interval,
        bytes32 predecessor,
        bytes calldata entries,
        bytes32[] calldata zeroIds
    ) external;

    /// @notice CC posts OCD entries (state Open). Each entry's Schnorr signature is verified over
    /// its §4.4 digest (kind 0, this deployment's domain), its consumption must be a category
    /// value, its timestamp exactly the interval's last second `end − 1` (DESIGN §4.4) and its
    /// pseudonym greater than the previous one.
    function postOcdBatch(uint32 interval, OcdEntry[] calldata entries) external;

    /// @notice CC posts real entries and zero-value slots of one stretch of the interval's
    /// pseudonym order (state Open): `entries` as in {postOcdBatch}, `zeroIds` the pseudonyms of
    /// meters' dummies and CC's absence markers. Both arrays sorted; their merge must strictly
    /// increase after the interval's previous pseudonym. A zero slot carries no signature on-chain
    /// (CC checked the meter's dummy; a marker has none), so it costs far less gas; owners check
    /// their slots off-chain. Reverts {BillingLedgerSlotCount} past `K × (registered meters)`.
    function postSlots(
        uint32 interval,
        OcdEntry[] calldata entries,
        bytes32[] calldata zeroIds
    ) external;

    /// @notice CC closes the OCD ledger (Open → OcdSealed); requires exactly `K × (registered
    /// meters at opening)` slots posted ({BillingLedgerSlotCount}).
    function sealInterval(uint32 interval) external;

    /// @notice Posts DAP entries signed under `sigPk_SP`, each with `price == priceFor(Σc_j)`
    /// under the interval's tariff. Relayed mode: CC, exactly one entry, OcdSealed → Priced.
    /// Direct mode: SP, one or more batches while OcdSealed or Priced and before the first bill
    /// batch ({BillingLedgerDapClosed} afterwards, also after {restartBilling}); ids (one per user
    /// pseudonym) strictly increase across the interval's batches
    /// (`EntryProblem.PseudonymNotIncreasing`), so no user pseudonym gets two prices.
    function postDap(uint32 interval, DapEntry[] calldata entries) external;

    /// @notice Posts the next bills (state Priced or Billing; CC in relayed, SP in direct mode).
    /// `bills` packs each bill (DESIGN §4.4, kind 2; Oksuz Table 3) in 56 bytes, `id (32) ‖ u64 c ‖
    /// u64 T ‖ u64 B` (pseudonym, consumption in Wh, time, bill in price units), the layout of
    /// {BillBatchPosted} (docs/PROTOCOL.md "Packed bill calldata"); a length that is not a whole
    /// number of bills reverts {BillingLedgerPackedLength}. Checks `B == p_j × c` for each and SP's
    /// one signature on the batch message
    /// `digest(domain, 3, j, keccak256(m_1 ‖ … ‖ m_n), u64 firstIndex, u64 n)` where `m_i` are the
    /// bills' §4.4 digests (kind 2, value = B).
    function postBills(uint32 interval, bytes calldata bills, address rAddr, uint256 y) external;

    /// @notice Discards the bills posted so far (state Billing → Priced), so a publisher who posted
    /// a wrong sequence can post the right one. The DAP ledger stays closed. Same role as
    /// {postBills}.
    function restartBilling(uint32 interval) external;

    /// @notice Requires exactly one bill per OCD entry, in OCD order (equal counts and running
    /// digests) and finalizes the interval. Same role as {postBills}.
    function closeBilling(uint32 interval) external;

    // ---------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------

    /// @notice This deployment's §4.4 domain: `keccak256(u256 chainid ‖ address(this))`.
    function domainSeparator() external view returns (bytes32);

    /// @notice Price per Wh under the current tariff for an aggregate of `aggregateWh`.
    function priceFor(uint256 aggregateWh) external view returns (uint64);

    /// @notice Price per Wh under tariff `version`.
    function priceForVersion(uint32 version, uint256 aggregateWh) external view returns (uint64);

    /// @notice The current tariff version (0 before the first {setTariff}).
    function tariffVersion() external view returns (uint32);

    /// @notice Tariff `version`'s parameters.
    function tariff(
        uint32 version
    ) external view returns (uint64[] memory breakpointsWh, uint64[] memory values, uint64 cap);

    /// @notice The current category values (all zero before they are set).
    function categoryValues() external view returns (uint32[5] memory);

    /// @notice The delivery mode for intervals opened from now on.
    function deliveryMode() external view returns (DeliveryMode);

    /// @notice `K` for intervals opened from now on (0 before {setSlotsPerMeter}).
    function slotsPerMeter() external view returns (uint16);

    /// @notice The stored commitments of `interval`.
    function intervalRecord(uint32 interval) external view returns (IntervalRecord memory);
}
