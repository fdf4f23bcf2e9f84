// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IBillingLedger, TariffProblem} from "../interfaces/IBillingLedger.sol";

/// @title Tariff
/// @notice The public pricing policy of DESIGN §2 ("Price"): the price per Wh of interval `j` is an
/// integer piecewise-linear, non-decreasing function of the interval's aggregate `Σc_j` (Wh),
/// capped by the regulator.
/// @dev With breakpoints `x_0 = 0 < x_1 < … < x_k` and values `v_0 ≤ v_1 ≤ … ≤ v_k`:
/// `f(x) = v_i + ⌊(v_{i+1} − v_i)·(x − x_i) / (x_{i+1} − x_i)⌋` for `x_i ≤ x < x_{i+1}`,
/// `f(x) = v_k` for `x ≥ x_k`, and `price(x) = min(f(x), cap)`. Values and cap are at most
/// `MAX_PRICE = 2^32 − 1` and category values at most `2^32 − 1` Wh, so every bill
/// `B = p_j·c < 2^64` fits the u64 value field of a ledger entry (DESIGN §4.4).
library Tariff {
    /// @dev At most this many breakpoints (bounds the price computation to a few thousand gas).
    uint256 internal constant MAX_BREAKPOINTS = 16;
    /// @dev The largest price per Wh.
    uint64 internal constant MAX_PRICE = type(uint32).max;

    /// @notice One published tariff version.
    struct Schedule {
        uint64[] breakpointsWh;
        uint64[] values;
        uint64 cap;
    }

    /// @notice Reverts with {IBillingLedger.BillingLedgerInvalidTariff} unless the parameters
    /// describe a valid tariff (see the library's description).
    function validate(
        uint64[] calldata breakpointsWh,
        uint64[] calldata values,
        uint64 cap
    ) internal pure {
        uint256 k = breakpointsWh.length;
        if (k == 0 || k > MAX_BREAKPOINTS || values.length != k) {
            revert IBillingLedger.BillingLedgerInvalidTariff(TariffProblem.Length, k);
        }
        if (breakpointsWh[0] != 0) {
            revert IBillingLedger.BillingLedgerInvalidTariff(
                TariffProblem.FirstBreakpointNotZero,
                0
            );
        }
        if (cap == 0 || cap > MAX_PRICE) {
            revert IBillingLedger.BillingLedgerInvalidTariff(TariffProblem.ValueOutOfRange, k);
        }
        if (values[0] > MAX_PRICE) {
            revert IBillingLedger.BillingLedgerInvalidTariff(TariffProblem.ValueOutOfRange, 0);
        }
        for (uint256 i = 1; i < k; ++i) {
            if (breakpointsWh[i] <= breakpointsWh[i - 1]) {
                revert IBillingLedger.BillingLedgerInvalidTariff(
                    TariffProblem.BreakpointNotIncreasing,
                    i
                );
            }
            if (values[i] < values[i - 1]) {
                revert IBillingLedger.BillingLedgerInvalidTariff(TariffProblem.ValueDecreasing, i);
            }
            if (values[i] > MAX_PRICE) {
                revert IBillingLedger.BillingLedgerInvalidTariff(TariffProblem.ValueOutOfRange, i);
            }
        }
    }

    /// @notice `price(x)` of a validated tariff held in memory.
    function evaluate(
        uint64[] memory breakpointsWh,
        uint64[] memory values,
        uint64 cap,
        uint256 aggregateWh
    ) internal pure returns (uint64 price) {
        uint256 k = breakpointsWh.length;
        uint256 i = 0;
        // Find the segment: the last breakpoint x_i ≤ x (x_0 = 0, so i exists).
        while (i + 1 < k && breakpointsWh[i + 1] <= aggregateWh) ++i;
        if (i + 1 == k) {
            price = values[i];
        } else {
            // Validated: x_i ≤ x < x_{i+1} < 2^64, v_i ≤ v_{i+1} ≤ 2^32 − 1, so the product is
            // below 2^96, the quotient below v_{i+1} − v_i and the sum at most v_{i+1}.
            unchecked {
                uint256 rise = values[i + 1] - values[i];
                uint256 run = breakpointsWh[i + 1] - breakpointsWh[i];
                price = uint64(values[i] + (rise * (aggregateWh - breakpointsWh[i])) / run);
            }
        }
        if (price > cap) price = cap;
    }

    /// @notice `price(x)` of a stored tariff.
    function priceOf(
        Schedule storage schedule,
        uint256 aggregateWh
    ) internal view returns (uint64) {
        return evaluate(schedule.breakpointsWh, schedule.values, schedule.cap, aggregateWh);
    }
}
