// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @notice A 33-byte compressed secp256k1 public key (SEC1), stored as its prefix (2 or 3) and x.
struct PublicKey {
    uint8 prefix;
    uint256 x;
}

/// @title IParticipantDirectory
/// @notice The public directory of GridLedger's billing deployment (DESIGN §2, Oksuz 2020 §4):
/// the control center's and the service provider's public keys (`pk_CC`, `sigPk_CC`, `pk_SP`,
/// `sigPk_SP`), set by the admin (regulator), and the smart meters' registered keys `pk_i`,
/// registered by the control center. Every registration is an event, and the events are where the
/// meters' keys are: the chain stores one slot per meter (its key's hash → its index, for
/// {meterIndexOf} and the duplicate check), so the onion-routing meter directory, index → key, is
/// rebuilt from the {MeterRegistered} logs (docs/SCALE.md "What the chain keeps per meter").
interface IParticipantDirectory {
    /// @notice A key is not a 33-byte compressed secp256k1 key usable by the Schnorr verifier:
    /// prefix not 2 or 3, or x not in [1, n−1]. Fix: pass the key's SEC1 prefix and x-coordinate.
    error ParticipantDirectoryInvalidKey(uint8 prefix, uint256 x);

    /// @notice The meter key is already registered (at `meterIndex`). Fix: skip it.
    error ParticipantDirectoryMeterRegistered(uint8 prefix, uint256 x, uint32 meterIndex);

    /// @notice The control center's keys were set or replaced.
    event ControlCenterKeysSet(uint8 pkPrefix, uint256 pkX, uint8 sigPkPrefix, uint256 sigPkX);

    /// @notice The service provider's keys were set or replaced.
    event ServiceProviderKeysSet(uint8 pkPrefix, uint256 pkX, uint8 sigPkPrefix, uint256 sigPkX);

    /// @notice Meter `meterIndex` (0-based, registration order) registered its key `pk_i`. The only
    /// record of index → key: the contract keeps the key's hash, not the key.
    event MeterRegistered(uint32 indexed meterIndex, uint8 prefix, uint256 x);

    /// @notice Sets `pk_CC` (key agreement) and `sigPk_CC` (signatures). Admin only.
    function setControlCenterKeys(PublicKey calldata pk, PublicKey calldata sigPk) external;

    /// @notice Sets `pk_SP` and `sigPk_SP`; `sigPk_SP` verifies DAP entries and BC batches.
    /// Admin only.
    function setServiceProviderKeys(PublicKey calldata pk, PublicKey calldata sigPk) external;

    /// @notice Registers meters' keys in order; emits one {MeterRegistered} per key. CC only.
    /// @return firstIndex the index of the first key registered by this call.
    function registerMeters(PublicKey[] calldata keys) external returns (uint32 firstIndex);

    /// @notice `(pk_CC, sigPk_CC)`; zero keys before they are set.
    function controlCenterKeys()
        external
        view
        returns (PublicKey memory pk, PublicKey memory sigPk);

    /// @notice `(pk_SP, sigPk_SP)`; zero keys before they are set.
    function serviceProviderKeys()
        external
        view
        returns (PublicKey memory pk, PublicKey memory sigPk);

    /// @notice Number of registered meters.
    function meterCount() external view returns (uint32);

    /// @notice `(true, index)` if the key is registered, `(false, 0)` otherwise. Keys differing only
    /// in the prefix (a point and its negation) are different keys.
    function meterIndexOf(
        PublicKey calldata key
    ) external view returns (bool registered, uint32 meterIndex);
}
