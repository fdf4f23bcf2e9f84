// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

import {IParticipantDirectory, PublicKey} from "../interfaces/IParticipantDirectory.sol";
import {SchnorrVerifier} from "../libraries/SchnorrVerifier.sol";

/// @title ParticipantDirectory
/// @notice Roles and the public key directory of a GridLedger billing deployment.
/// @dev Admin (`DEFAULT_ADMIN_ROLE`, the regulator) sets CC's and SP's keys; CC registers meters.
/// A meter costs one storage slot (`_meterSlot`, its key's hash → index + 1); its key itself is
/// kept only in its {MeterRegistered} event (docs/SCALE.md "What the chain keeps per meter").
abstract contract ParticipantDirectory is AccessControl, IParticipantDirectory {
    /// @notice The control center's role (opens intervals, posts OCD, relays DAP/BC).
    bytes32 public constant CC_ROLE = keccak256("GridLedger.CC_ROLE");
    /// @notice The service provider's role (posts DAP/BC in direct mode).
    bytes32 public constant SP_ROLE = keccak256("GridLedger.SP_ROLE");

    PublicKey private _ccPk;
    PublicKey private _ccSigPk;
    PublicKey private _spPk;
    PublicKey private _spSigPk;

    uint32 private _meterCount;
    /// @dev keccak256(prefix ‖ x) (33 bytes, {_keyHash}) → meterIndex + 1 (0 = unregistered).
    mapping(bytes32 keyHash => uint32) private _meterSlot;

    constructor(address admin, address controlCenter, address serviceProvider) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(CC_ROLE, controlCenter);
        _grantRole(SP_ROLE, serviceProvider);
    }

    /// @inheritdoc IParticipantDirectory
    function setControlCenterKeys(
        PublicKey calldata pk,
        PublicKey calldata sigPk
    ) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _checkKey(pk);
        _checkKey(sigPk);
        _ccPk = pk;
        _ccSigPk = sigPk;
        emit ControlCenterKeysSet(pk.prefix, pk.x, sigPk.prefix, sigPk.x);
    }

    /// @inheritdoc IParticipantDirectory
    function setServiceProviderKeys(
        PublicKey calldata pk,
        PublicKey calldata sigPk
    ) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _checkKey(pk);
        _checkKey(sigPk);
        _spPk = pk;
        _spSigPk = sigPk;
        emit ServiceProviderKeysSet(pk.prefix, pk.x, sigPk.prefix, sigPk.x);
    }

    /// @inheritdoc IParticipantDirectory
    function registerMeters(
        PublicKey[] calldata keys
    ) external onlyRole(CC_ROLE) returns (uint32 firstIndex) {
        firstIndex = _meterCount;
        uint32 index = firstIndex;
        for (uint256 i = 0; i < keys.length; ++i) {
            PublicKey calldata key = keys[i];
            _checkKey(key);
            bytes32 keyHash = _keyHash(key);
            uint32 slot = _meterSlot[keyHash];
            if (slot != 0) revert ParticipantDirectoryMeterRegistered(key.prefix, key.x, slot - 1);
            // Checked: reverts (panic) before the 2^32-th meter.
            _meterSlot[keyHash] = index + 1;
            emit MeterRegistered(index, key.prefix, key.x);
            ++index;
        }
        _meterCount = index;
    }

    /// @inheritdoc IParticipantDirectory
    function controlCenterKeys()
        external
        view
        returns (PublicKey memory pk, PublicKey memory sigPk)
    {
        return (_ccPk, _ccSigPk);
    }

    /// @inheritdoc IParticipantDirectory
    function serviceProviderKeys()
        external
        view
        returns (PublicKey memory pk, PublicKey memory sigPk)
    {
        return (_spPk, _spSigPk);
    }

    /// @inheritdoc IParticipantDirectory
    function meterCount() external view returns (uint32) {
        return _meterCount;
    }

    /// @inheritdoc IParticipantDirectory
    function meterIndexOf(
        PublicKey calldata key
    ) external view returns (bool registered, uint32 meterIndex) {
        uint32 slot = _meterSlot[_keyHash(key)];
        if (slot == 0) return (false, 0);
        return (true, slot - 1);
    }

    /// @dev The number of registered meters (cheaper than the external {meterCount} for derived
    /// contracts).
    function _registeredMeters() internal view returns (uint32) {
        return _meterCount;
    }

    /// @dev `sigPk_SP` as (prefix, x); prefix 0 when unset.
    function _serviceProviderSigKey() internal view returns (uint8 prefix, uint256 x) {
        return (_spSigPk.prefix, _spSigPk.x);
    }

    /// @dev keccak256(prefix ‖ x) over the key's 33 SEC1 bytes, the same as
    /// `keccak256(abi.encodePacked(key.prefix, key.x))` without the memory copy: hashed in the
    /// scratch space (bytes 0–63, free to use between statements).
    function _keyHash(PublicKey calldata key) internal pure returns (bytes32 h) {
        uint8 prefix = key.prefix;
        uint256 x = key.x;
        assembly ("memory-safe") {
            mstore(0x00, shl(248, prefix))
            mstore(0x01, x)
            h := keccak256(0x00, 33)
        }
    }

    /// @dev A key the Schnorr verifier accepts (DESIGN §4.3: x(Z) < n). Whether (prefix, x) is on
    /// the curve is not checked here: a key off the curve verifies nothing.
    function _checkKey(PublicKey calldata key) private pure {
        if ((key.prefix != 2 && key.prefix != 3) || key.x == 0 || key.x >= SchnorrVerifier.N) {
            revert ParticipantDirectoryInvalidKey(key.prefix, key.x);
        }
    }
}
