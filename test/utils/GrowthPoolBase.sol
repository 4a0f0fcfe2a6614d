// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {VRFCoordinatorV2_5Mock} from "@chainlink/contracts/src/v0.8/vrf/mocks/VRFCoordinatorV2_5Mock.sol";
import {ProtocolFixture} from "./ProtocolFixture.sol";
import {MerkleHelper} from "./MerkleHelper.sol";
import {GrowthPool} from "../../contracts/GrowthPool.sol";
import {IGrowthPool} from "../../contracts/interfaces/IGrowthPool.sol";
import {IGovernedUUPS} from "../../contracts/interfaces/IGovernedUUPS.sol";
import {INodeStaking} from "../../contracts/interfaces/INodeStaking.sol";
import {IDeviceRegistry} from "../../contracts/interfaces/IDeviceRegistry.sol";

/// @notice What the tests call on the GrowthPool proxy after an upgrade to `GrowthPoolV2` (deployed from its
///         artifact `test/mocks/GrowthPoolV2.sol:GrowthPoolV2`).
interface IGrowthPoolTestable is IGrowthPool, IGovernedUUPS {
    function upgradeToAndCall(address implementation, bytes calldata data) external payable;

    function version() external pure returns (uint256);

    function initializeV2() external;
}

/// @notice The parts of Chainlink's VRFCoordinatorV2_5Mock the tests use.
interface IVRFCoordinatorMockLike {
    function createSubscription() external returns (uint256 subId);

    function fundSubscription(uint256 subId, uint256 amount) external;

    function addConsumer(uint256 subId, address consumer) external;

    function fulfillRandomWords(uint256 requestId, address consumer) external;

    function fulfillRandomWordsWithOverride(
        uint256 requestId,
        address consumer,
        uint256[] memory words
    ) external;
}

/// @title GrowthPoolBase
/// @notice Growth-pool domain layer over the shared ProtocolFixture (which deploys the pool, Chainlink's VRF mock
///         and its subscription exactly as script/deploy.ts does). It only sets the pool parameters its tests were
///         written for through the fixture's config hook — small H = 4 and k = 3 keep halvings and duplicate
///         winners reachable — stakes a second distributor, and adds epoch/heartbeat/Merkle helpers.
abstract contract GrowthPoolBase is ProtocolFixture {
    using MerkleHelper for bytes32[];

    string internal constant POOL_V2_ARTIFACT = "test/mocks/GrowthPoolV2.sol:GrowthPoolV2";

    uint64 internal constant EPOCH = 1 days;
    uint32 internal constant H = 4;
    uint32 internal constant K = 3;
    uint64 internal constant WINDOW = 7 days;
    uint32 internal constant CALLBACK_GAS = 200_000;
    bytes32 internal constant KEY_HASH = keccak256("growth-key-hash");
    uint256 internal constant POOL_CAP = (SUPPLY * 900) / BPS;
    uint64 internal constant CHALLENGE_WINDOW = 1 days;
    uint256 internal constant SLASH = 4_000 ether;
    /// @dev secp256k1 group order (device keys are derived below it).
    uint256 internal constant SECP256K1_N =
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    address internal distributor2 = makeAddr("distributor2");

    /// @dev The pool implementation behind the proxy.
    address internal implementation;
    /// @dev Start of epoch 0: one hour after deployment.
    uint64 internal genesis;
    /// @dev Private key of every device address `_devices` made.
    mapping(address device => uint256 key) internal keyOf;

    function setUp() public virtual override {
        super.setUp();
        implementation = address(poolImpl);
        genesis = cfg.poolGenesis;
        _stakeAs(distributor, INodeStaking.Role.Distributor, MIN_STAKE_DISTRIBUTOR);
        _stakeAs(distributor2, INodeStaking.Role.Distributor, MIN_STAKE_DISTRIBUTOR);
    }

    /// @dev The growth-pool parameters of these tests (the rest is the fixture's default deployment).
    function _deployConfig() internal view virtual override returns (Config memory c) {
        c = super._deployConfig();
        c.poolGenesis = uint64(GENESIS_TIME + 1 hours);
        c.poolEpochLength = EPOCH;
        c.halvingEpochs = H;
        c.winnersPerEpoch = K;
        c.poolClaimWindow = WINDOW;
        c.poolChallengeWindow = CHALLENGE_WINDOW;
        c.poolSlashAmount = uint96(SLASH);
        c.vrfKeyHash = KEY_HASH;
        c.vrfConfirmations = 3;
        c.vrfCallbackGas = CALLBACK_GAS;
    }

    // ---------------------------------------------------------------- setup helpers

    /// @dev A second Chainlink mock coordinator (for coordinator changes).
    function _newCoordinator() internal returns (IVRFCoordinatorMockLike) {
        return
            IVRFCoordinatorMockLike(
                address(new VRFCoordinatorV2_5Mock(VRF_BASE_FEE, VRF_GAS_PRICE, VRF_WEI_PER_UNIT_LINK))
            );
    }

    function _initData(
        address gov,
        address tok,
        address stk,
        IGrowthPool.Config memory c,
        IGrowthPool.VrfConfig memory v
    ) internal view returns (bytes memory) {
        return _initData(gov, tok, stk, c, v, _challenge());
    }

    function _initData(
        address gov,
        address tok,
        address stk,
        IGrowthPool.Config memory c,
        IGrowthPool.VrfConfig memory v,
        IGrowthPool.ChallengeConfig memory ch
    ) internal view returns (bytes memory) {
        return
            abi.encodeCall(
                GrowthPool.initialize,
                (gov, IERC20(tok), INodeStaking(stk), IDeviceRegistry(address(registry)), c, v, ch)
            );
    }

    /// @dev The deployed pool's challenge configuration.
    function _challenge() internal view returns (IGrowthPool.ChallengeConfig memory) {
        return _poolChallenge();
    }

    /// @dev The deployed pool's configuration.
    function _config() internal view returns (IGrowthPool.Config memory) {
        return _poolConfig();
    }

    /// @dev The deployed pool's VRF configuration.
    function _vrf() internal view returns (IGrowthPool.VrfConfig memory) {
        return _poolVrf();
    }

    // ---------------------------------------------------------------- epoch helpers

    /// @dev `n` distinct device addresses (with known keys) for a list tagged by `salt`; not registered.
    function _devices(uint256 n, uint256 salt) internal returns (address[] memory devices) {
        devices = new address[](n);
        for (uint256 i = 0; i < n; ++i) {
            uint256 key = (uint256(keccak256(abi.encode("device", salt, i))) % (SECP256K1_N - 1)) + 1;
            devices[i] = vm.addr(key);
            keyOf[devices[i]] = key;
        }
    }

    /// @dev Like `_devices`, and each device registers (bond funded from the faucet).
    function _registeredDevices(uint256 n, uint256 salt) internal returns (address[] memory devices) {
        devices = _devices(n, salt);
        for (uint256 i = 0; i < n; ++i) _registerDevice(devices[i], keccak256("dml.schema.email.v1"));
    }

    /// @dev The device's EIP-712 heartbeat for `epoch` (a garbage-free 65-byte signature).
    function _heartbeat(address device, uint256 epoch) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s_) = vm.sign(
            keyOf[device],
            registry.heartbeatDigest(device, uint64(epoch))
        );
        return abi.encodePacked(r, s_, v);
    }

    /// @dev The honest leaf of device `index` of `devices` in `epoch`.
    function _leaf(
        uint256 epoch,
        address[] memory devices,
        uint256 index
    ) internal view returns (IGrowthPool.Leaf memory) {
        return
            IGrowthPool.Leaf({
                index: index,
                device: devices[index],
                signature: _heartbeat(devices[index], epoch)
            });
    }

    /// @dev The connected-set tree of `devices` for `epoch`: leaf i = (i, devices[i], heartbeat).
    function _tree(uint256 epoch, address[] memory devices) internal view returns (bytes32[] memory) {
        uint256 n = devices.length;
        uint256[] memory indices = new uint256[](n);
        bytes[] memory sigs = new bytes[](n);
        for (uint256 i = 0; i < n; ++i) {
            indices[i] = i;
            sigs[i] = _heartbeat(devices[i], epoch);
        }
        return MerkleHelper.buildHeartbeats(indices, devices, sigs);
    }

    /// @dev The proof of `leaf` in `tree`.
    function _proof(
        bytes32[] memory tree,
        IGrowthPool.Leaf memory leaf
    ) internal pure returns (bytes32[] memory) {
        return tree.heartbeatProof(leaf.index, leaf.device, leaf.signature);
    }

    function _warpToEnd(uint256 epoch) internal {
        uint256 end = pool.epochEnd(epoch);
        if (block.timestamp < end) vm.warp(end);
    }

    /// @dev Warps past `epoch` and posts `devices` (empty: n = 0) as `distributor`; returns the tree.
    function _postOnly(uint256 epoch, address[] memory devices) internal returns (bytes32[] memory tree) {
        _warpToEnd(epoch);
        bytes32 root;
        if (devices.length != 0) {
            tree = _tree(epoch, devices);
            root = tree.root();
        }
        vm.prank(distributor);
        pool.postEpoch(epoch, root, devices.length, "bafy-device-list");
    }

    /// @dev Warps past the challenge window of `epoch` and requests its draw (anyone may).
    function _requestDraw(uint256 epoch) internal returns (uint256 requestId) {
        uint256 deadline = pool.epochInfo(epoch).challengeDeadline;
        if (block.timestamp <= deadline) vm.warp(deadline + 1);
        vm.prank(carol);
        requestId = pool.requestDraw(epoch);
    }

    /// @dev Posts `devices` for `epoch` (empty: n = 0), lets the challenge window pass and requests the draw.
    ///      Returns the VRF request id (0 when nothing is drawn) and the tree.
    function _post(
        uint256 epoch,
        address[] memory devices
    ) internal returns (uint256 requestId, bytes32[] memory tree) {
        tree = _postOnly(epoch, devices);
        if (devices.length != 0) requestId = _requestDraw(epoch);
    }

    function _fulfil(uint256 requestId) internal {
        coordinator.fulfillRandomWords(requestId, address(pool));
    }

    function _fulfilWith(uint256 requestId, uint256 word) internal {
        uint256[] memory words = new uint256[](1);
        words[0] = word;
        coordinator.fulfillRandomWordsWithOverride(requestId, address(pool), words);
    }

    /// @dev Posts and draws `epoch` with `word`.
    function _postAndDraw(
        uint256 epoch,
        address[] memory devices,
        uint256 word
    ) internal returns (bytes32[] memory tree) {
        uint256 requestId;
        (requestId, tree) = _post(epoch, devices);
        _fulfilWith(requestId, word);
    }

    /// @dev Claims draw `j` of `epoch` for its winner; returns the winner.
    function _claimDraw(
        uint256 epoch,
        uint256 j,
        address[] memory devices,
        bytes32[] memory tree
    ) internal returns (address winner) {
        uint256 index = pool.winnerIndex(epoch, j);
        winner = devices[index];
        IGrowthPool.Leaf memory leaf = _leaf(epoch, devices, index);
        pool.claim(epoch, j, leaf, _proof(tree, leaf));
    }

    function _e0() internal pure returns (uint256) {
        return POOL_CAP / (2 * uint256(H));
    }
}
