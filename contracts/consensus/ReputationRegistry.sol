// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

import {IAggregationLedger} from "../interfaces/IAggregationLedger.sol";
import {IReputationRegistry} from "../interfaces/IReputationRegistry.sol";
import {BLS12381} from "../libraries/BLS12381.sol";

/// @title ReputationRegistry
/// @notice BBNP consensus nodes, their BLS keys and reputations; Besu QBFT validator contract
/// (DESIGN §2, §5; docs/CONSENSUS.md).
/// @dev Storage per round is two slots (reputation hash, validator bitmap): the vector lives in
/// calldata and the ledger's event, so a round costs the same for 4 or 100 nodes up to calldata.
contract ReputationRegistry is IReputationRegistry, AccessControl {
    /// @notice The regulator: admits and removes nodes (granted by the admin).
    bytes32 public constant REGULATOR_ROLE = keccak256("REGULATOR_ROLE");

    /// @dev Signer and validator bitmaps are one word.
    uint256 private constant MAX_NODES = 256;
    /// @dev Fixed point 1.0.
    uint256 private constant ONE = 1e18;
    /// @dev Besu QBFT needs at least 4 validators to tolerate one fault.
    uint256 private constant MIN_VALIDATORS = 4;
    /// @dev Tag of the per-round message whose unique signatures yield X_q and Θ (DESIGN §5.4,
    /// `ROUND_RANDOM_TAG` of offchain/protocol/primary-selection.ts).
    bytes private constant ROUND_RANDOM_TAG = "GridLedger/round";

    struct Node {
        address account;
        bytes32 keyHash;
    }

    Node[] private _nodes;
    mapping(uint256 index => bytes key) private _keys;
    mapping(address account => uint256 indexPlusOne) private _indexPlusOne;
    mapping(bytes32 keyHash => bool) private _keyRegistered;

    bytes private _aggregateKey;
    bytes32 private _aggregateKeyHash;
    bytes32 private _reputationsHash;
    uint256 private _validatorBitmap;
    address private _ledger;

    /// @param admin Holder of DEFAULT_ADMIN_ROLE and REGULATOR_ROLE.
    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(REGULATOR_ROLE, admin);
        _aggregateKey = new bytes(BLS12381.G1_POINT_LENGTH);
        _aggregateKeyHash = keccak256(_aggregateKey);
        _reputationsHash = keccak256("");
    }

    // ------------------------------------------------------------------ membership (regulator)

    /// @inheritdoc IReputationRegistry
    function addNode(
        address account,
        bytes calldata blsKey,
        bytes calldata pop,
        uint64 initialReputation,
        bytes calldata currentReputations
    ) external onlyRole(REGULATOR_ROLE) {
        uint256 m = _nodes.length;
        if (m == MAX_NODES) revert ReputationRegistryFull();
        if (account == address(0) || _indexPlusOne[account] != 0) {
            revert ReputationRegistryInvalidAccount(account);
        }
        if (initialReputation > ONE) {
            revert ReputationRegistryReputationOutOfRange(m, initialReputation);
        }
        _checkCommitted(currentReputations, m);
        bytes32 keyHash = keccak256(blsKey);
        if (
            blsKey.length != BLS12381.G1_POINT_LENGTH ||
            _keyRegistered[keyHash] ||
            !BLS12381.tryVerifyPossession(blsKey, pop)
        ) revert ReputationRegistryInvalidKey();

        _nodes.push(Node({account: account, keyHash: keyHash}));
        _keys[m] = blsKey;
        _indexPlusOne[account] = m + 1;
        _keyRegistered[keyHash] = true;
        // The PoP check validated the key (on the curve, in the subgroup), so G1ADD is sound here.
        _setAggregateKey(_add(_aggregateKey, blsKey));
        bytes memory next = abi.encodePacked(currentReputations, initialReputation);
        _storeReputations(next);
        emit NodeAdded(m, account, blsKey, initialReputation);
    }

    /// @inheritdoc IReputationRegistry
    function removeNode(
        address account,
        bytes calldata currentReputations
    ) external onlyRole(REGULATOR_ROLE) {
        uint256 indexPlusOne = _indexPlusOne[account];
        if (indexPlusOne == 0) revert ReputationRegistryUnknownNode(account);
        uint256 m = _nodes.length;
        _checkCommitted(currentReputations, m);
        // Checked: indexPlusOne ≥ 1 and m ≥ 1 (the account is a node).
        uint256 index = indexPlusOne - 1;
        uint256 last = m - 1;
        bytes memory key = _keys[index];
        _setAggregateKey(_add(_aggregateKey, BLS12381.negateG1(key)));
        delete _keyRegistered[_nodes[index].keyHash];
        delete _indexPlusOne[account];

        bytes memory next = currentReputations[:8 * last];
        if (index != last) {
            Node memory moved = _nodes[last];
            _nodes[index] = moved;
            _keys[index] = _keys[last];
            _indexPlusOne[moved.account] = index + 1;
            bytes8 movedReputation = bytes8(currentReputations[8 * last:8 * m]);
            // Overwrite the 8 bytes at `index`, keeping the 24 bytes after them.
            assembly ("memory-safe") {
                let p := add(add(next, 0x20), mul(index, 8))
                mstore(p, or(movedReputation, shr(64, shl(64, mload(p)))))
            }
        }
        _nodes.pop();
        delete _keys[last];
        _storeReputations(next);
        emit NodeRemoved(index, account, last);
    }

    /// @inheritdoc IReputationRegistry
    function bindLedger(address ledger_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (_ledger != address(0) || ledger_ == address(0)) {
            revert ReputationRegistryLedgerAlreadyBound();
        }
        _ledger = ledger_;
        emit LedgerBound(ledger_);
    }

    // ------------------------------------------------------------------ rounds (ledger)

    /// @inheritdoc IReputationRegistry
    function applyBlock(
        uint64 round,
        uint256 primary,
        address submitter,
        bytes calldata reputations
    ) external {
        if (msg.sender != _ledger) revert ReputationRegistryNotLedger(msg.sender);
        uint256 m = _nodes.length;
        if (primary >= m || _nodes[primary].account != submitter) {
            revert ReputationRegistryWrongPrimary(primary, submitter);
        }
        if (reputations.length != 8 * m) revert ReputationRegistryReputationsMismatch();
        bytes32 hash = keccak256(reputations);
        uint256 validators = _validatorsOf(reputations, m);
        _reputationsHash = hash;
        _validatorBitmap = validators;
        emit ReputationsUpdated(round, hash, validators);
    }

    /// @inheritdoc IReputationRegistry
    function signersKey(
        uint256 signers,
        bytes calldata aggregateKey_,
        bytes calldata nonSignerKeys
    ) external view returns (bytes memory key) {
        uint256 m = _nodes.length;
        uint256 q = _quorum(m);
        uint256 count = _popcount(signers);
        if ((m < MAX_NODES && signers >> m != 0) || count < q) {
            revert ReputationRegistryInsufficientSigners(count, q);
        }
        if (keccak256(aggregateKey_) != _aggregateKeyHash) {
            revert ReputationRegistryKeyMismatch(type(uint256).max);
        }
        // Checked: count ≤ m (no bit at or above m).
        uint256 missing = m - count;
        if (nonSignerKeys.length != missing * BLS12381.G1_POINT_LENGTH) {
            revert ReputationRegistryKeyMismatch(type(uint256).max);
        }
        key = aggregateKey_;
        uint256 k;
        for (uint256 j = 0; k < missing; ++j) {
            if ((signers >> j) & 1 == 1) continue;
            bytes calldata nonSigner = nonSignerKeys[k * 128:(k + 1) * 128];
            if (keccak256(nonSigner) != _nodes[j].keyHash) revert ReputationRegistryKeyMismatch(j);
            key = _add(key, BLS12381.negateG1(nonSigner));
            ++k;
        }
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IReputationRegistry
    function getValidators() external view returns (address[] memory validators) {
        uint256 bitmap = _validatorBitmap;
        validators = new address[](_popcount(bitmap));
        uint256 k;
        for (uint256 j = 0; bitmap >> j != 0; ++j) {
            if ((bitmap >> j) & 1 == 1) validators[k++] = _nodes[j].account;
        }
    }

    /// @inheritdoc IReputationRegistry
    function verifyPrimarySelection(
        uint64 round,
        bytes calldata reputations,
        uint256 revealers,
        bytes calldata revealedKeys,
        bytes calldata revealedSigs,
        bytes calldata gatewaySig,
        uint256 claimedPrimary
    ) external view returns (bool) {
        _checkCommitted(reputations, _nodes.length);
        if (
            !_wellFormed(round, revealers, revealedKeys, revealedSigs, gatewaySig) ||
            !_revealersValid(reputations, revealers, revealedKeys) ||
            !_batchValid(round, revealedKeys, revealedSigs, gatewaySig)
        ) return false;
        return claimedPrimary == _selectPrimary(reputations, revealers, revealedSigs, gatewaySig);
    }

    /// @inheritdoc IReputationRegistry
    function nodeCount() external view returns (uint256) {
        return _nodes.length;
    }

    /// @inheritdoc IReputationRegistry
    function node(uint256 index) external view returns (address account, bytes memory blsKey) {
        return (_nodes[index].account, _keys[index]);
    }

    /// @inheritdoc IReputationRegistry
    function indexOf(address account) external view returns (uint256) {
        uint256 indexPlusOne = _indexPlusOne[account];
        if (indexPlusOne == 0) revert ReputationRegistryUnknownNode(account);
        // Checked: indexPlusOne ≥ 1.
        return indexPlusOne - 1;
    }

    /// @inheritdoc IReputationRegistry
    function aggregateKey() external view returns (bytes memory) {
        return _aggregateKey;
    }

    /// @inheritdoc IReputationRegistry
    function reputationsHash() external view returns (bytes32) {
        return _reputationsHash;
    }

    /// @inheritdoc IReputationRegistry
    function validatorBitmap() external view returns (uint256) {
        return _validatorBitmap;
    }

    /// @inheritdoc IReputationRegistry
    function quorum() external view returns (uint256) {
        return _quorum(_nodes.length);
    }

    /// @inheritdoc IReputationRegistry
    function ledger() external view returns (address) {
        return _ledger;
    }

    // ------------------------------------------------------------------ internals

    /// @dev The round is above the ledger's head; lengths match a non-empty revealer set.
    function _wellFormed(
        uint64 round,
        uint256 revealers,
        bytes calldata revealedKeys,
        bytes calldata revealedSigs,
        bytes calldata gatewaySig
    ) private view returns (bool) {
        (uint64 headRound, bool any) = IAggregationLedger(_ledger).lastRound();
        if (any && round <= headRound) return false;
        uint256 k = _popcount(revealers);
        return
            k != 0 &&
            revealedKeys.length == k * BLS12381.G1_POINT_LENGTH &&
            revealedSigs.length == k * BLS12381.G2_POINT_LENGTH &&
            gatewaySig.length == BLS12381.G2_POINT_LENGTH;
    }

    /// @dev One random-linear-combination pairing over the revealed signatures and GW's, all on
    /// `roundRandomMessage(round, headDigest)` (DESIGN §5.4).
    function _batchValid(
        uint64 round,
        bytes calldata revealedKeys,
        bytes calldata revealedSigs,
        bytes calldata gatewaySig
    ) private view returns (bool) {
        IAggregationLedger ledger_ = IAggregationLedger(_ledger);
        bytes memory message = abi.encodePacked(ROUND_RANDOM_TAG, round, ledger_.headDigest());
        return
            BLS12381.tryVerifyBatchSameMessage(
                abi.encodePacked(revealedKeys, ledger_.gatewayKey()),
                message,
                abi.encodePacked(revealedSigs, gatewaySig)
            );
    }

    /// @dev The revealers are nodes, pre-selected (Γ_q·M ≥ ΣΓ), and present their registered keys
    /// (`revealedKeys` has 128 bytes per revealer, checked by the caller).
    function _revealersValid(
        bytes calldata reputations,
        uint256 revealers,
        bytes calldata revealedKeys
    ) private view returns (bool) {
        uint256 m = _nodes.length;
        if (m < MAX_NODES && revealers >> m != 0) return false;
        uint256 total = _sum(reputations, m);
        uint256 i;
        for (uint256 j = 0; revealers >> j != 0; ++j) {
            if ((revealers >> j) & 1 == 0) continue;
            if (_at(reputations, j) * m < total) return false;
            if (keccak256(revealedKeys[i * 128:(i + 1) * 128]) != _nodes[j].keyHash) return false;
            ++i;
        }
        return true;
    }

    function _quorum(uint256 m) private pure returns (uint256) {
        if (m == 0) return 1;
        uint256 f = (m - 1) / 3;
        return (m + f) / 2 + 1;
    }

    function _checkCommitted(bytes calldata reputations, uint256 m) private view {
        if (reputations.length != 8 * m || keccak256(reputations) != _reputationsHash) {
            revert ReputationRegistryReputationsMismatch();
        }
    }

    function _storeReputations(bytes memory reputations) private {
        uint256 m = reputations.length / 8;
        _reputationsHash = keccak256(reputations);
        _validatorBitmap = _validatorsOfMemory(reputations, m);
    }

    function _setAggregateKey(bytes memory key) private {
        _aggregateKey = key;
        _aggregateKeyHash = keccak256(key);
    }

    function _add(bytes memory a, bytes memory b) private view returns (bytes memory sum) {
        bool ok;
        (ok, sum) = BLS12381.tryAddG1(a, b);
        if (!ok) revert ReputationRegistryInvalidKey();
    }

    /// @dev Γ_j from a packed calldata vector (u64 big-endian at 8·j).
    function _at(bytes calldata reputations, uint256 j) private pure returns (uint256 value) {
        assembly ("memory-safe") {
            value := shr(192, calldataload(add(reputations.offset, mul(j, 8))))
        }
    }

    function _sum(bytes calldata reputations, uint256 m) private pure returns (uint256 total) {
        for (uint256 j = 0; j < m; ++j) total += _at(reputations, j);
    }

    /// @dev Validators: Γ_j·M ≥ ΣΓ, then filled by highest Γ (ties: lower index) up to min(4, M).
    /// Reverts if a value exceeds 1e18.
    function _validatorsOf(bytes calldata reputations, uint256 m) private pure returns (uint256) {
        uint256[] memory values = new uint256[](m);
        for (uint256 j = 0; j < m; ++j) values[j] = _at(reputations, j);
        return _validatorsFromValues(values);
    }

    function _validatorsOfMemory(
        bytes memory reputations,
        uint256 m
    ) private pure returns (uint256) {
        uint256[] memory values = new uint256[](m);
        for (uint256 j = 0; j < m; ++j) {
            uint256 value;
            assembly ("memory-safe") {
                value := shr(192, mload(add(add(reputations, 0x20), mul(j, 8))))
            }
            values[j] = value;
        }
        return _validatorsFromValues(values);
    }

    function _validatorsFromValues(uint256[] memory values) private pure returns (uint256 bitmap) {
        uint256 m = values.length;
        uint256 total;
        for (uint256 j = 0; j < m; ++j) {
            if (values[j] > ONE) revert ReputationRegistryReputationOutOfRange(j, values[j]);
            total += values[j];
        }
        uint256 count;
        for (uint256 j = 0; j < m; ++j) {
            if (values[j] * m >= total) {
                bitmap |= 1 << j;
                ++count;
            }
        }
        uint256 target = m < MIN_VALIDATORS ? m : MIN_VALIDATORS;
        while (count < target) {
            uint256 best = type(uint256).max;
            for (uint256 j = 0; j < m; ++j) {
                if ((bitmap >> j) & 1 == 1) continue;
                if (best == type(uint256).max || values[j] > values[best]) best = j;
            }
            bitmap |= 1 << best;
            ++count;
        }
    }

    /// @dev Running best candidates of {_selectPrimary}.
    struct Best {
        uint256 eligible;
        uint256 eligibleReputation;
        uint256 eligibleX;
        uint256 any;
        uint256 anyX;
        bool found;
    }

    /// @dev The selection rule of DESIGN §5.4 over verified revealed signatures (ascending index):
    /// X_q = sha256(compressed σ_q), Θ likewise; highest Γ among X_q ≥ Θ, ties by larger X; none →
    /// highest X. Strict comparisons in ascending index order: the lower index wins other ties.
    function _selectPrimary(
        bytes calldata reputations,
        uint256 revealers,
        bytes calldata revealedSigs,
        bytes calldata gatewaySig
    ) private pure returns (uint256) {
        uint256 theta = uint256(sha256(BLS12381.compressG2(gatewaySig)));
        Best memory best = Best(type(uint256).max, 0, 0, type(uint256).max, 0, false);
        uint256 i;
        for (uint256 j = 0; revealers >> j != 0; ++j) {
            if ((revealers >> j) & 1 == 0) continue;
            uint256 x = uint256(sha256(BLS12381.compressG2(revealedSigs[i * 256:(i + 1) * 256])));
            ++i;
            if (best.any == type(uint256).max || x > best.anyX) {
                best.any = j;
                best.anyX = x;
            }
            if (x < theta) continue;
            uint256 rep = _at(reputations, j);
            if (
                !best.found ||
                rep > best.eligibleReputation ||
                (rep == best.eligibleReputation && x > best.eligibleX)
            ) {
                best.eligible = j;
                best.eligibleReputation = rep;
                best.eligibleX = x;
                best.found = true;
            }
        }
        return best.found ? best.eligible : best.any;
    }

    function _popcount(uint256 x) private pure returns (uint256 count) {
        // Kernighan: one iteration per set bit (≤ 256).
        while (x != 0) {
            x &= x - 1;
            ++count;
        }
    }
}
