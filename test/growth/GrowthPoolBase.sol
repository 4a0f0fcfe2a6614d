// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {ProtocolFixture} from "../utils/ProtocolFixture.sol";
import {MerkleHelper} from "../utils/MerkleHelper.sol";
import {IGrowthPool} from "../../contracts/interfaces/IGrowthPool.sol";
import {IGovernedUUPS} from "../../contracts/interfaces/IGovernedUUPS.sol";
import {INodeStaking} from "../../contracts/interfaces/INodeStaking.sol";
import {IDeviceRegistry} from "../../contracts/interfaces/IDeviceRegistry.sol";

/// @notice Everything the tests call on the GrowthPool proxy (and on GrowthPoolV2 after an upgrade).
/// @dev The tests never import GrowthPool.sol or the VRF mock: the npm wasm solc crashes on a compilation job holding
///      both the ProtocolFixture and GrowthPool (or the mock), so those are deployed from their artifacts with
///      `deployCode`. Run the tests together with `test/mocks/GrowthPoolV2.sol` and
///      `test/mocks/GrowthPoolVRFCoordinatorMock.sol` so their artifacts exist (see docs/growth-pool.md).
interface IGrowthPoolTestable is IGrowthPool, IGovernedUUPS {
    function initialize(
        address governance,
        IERC20 token,
        INodeStaking staking,
        IDeviceRegistry registry,
        IGrowthPool.Config calldata config,
        IGrowthPool.VrfConfig calldata vrf,
        IGrowthPool.ChallengeConfig calldata challenge
    ) external;

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
/// @notice The shared ProtocolFixture (token with 9% minted to the predicted pool proxy, timelock governance, real
///         NodeStaking behind a proxy) plus, through its `_deployGrowthPool` hook, Chainlink's VRFCoordinatorV2_5Mock
///         with a funded subscription and the GrowthPool proxy at the predicted address. Small test parameters
///         (H = 4, k = 3) keep halvings and duplicate winners reachable. Two staked distributors.
abstract contract GrowthPoolBase is ProtocolFixture {
    using MerkleHelper for bytes32[];

    string internal constant POOL_ARTIFACT = "contracts/GrowthPool.sol:GrowthPool";
    string internal constant POOL_V2_ARTIFACT = "test/mocks/GrowthPoolV2.sol:GrowthPoolV2";
    string internal constant VRF_MOCK_ARTIFACT =
        "test/mocks/GrowthPoolVRFCoordinatorMock.sol:GrowthPoolVRFCoordinatorMock";

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

    address internal distributor = makeAddr("distributor");
    address internal distributor2 = makeAddr("distributor2");
    /// @dev The governance address: the timelock (tests prank it for parameter calls).
    address internal governance;

    IVRFCoordinatorMockLike internal coordinator;
    IGrowthPoolTestable internal pool;
    address internal implementation;
    uint256 internal subId;
    uint64 internal genesis;
    /// @dev Private key of every device address `_devices` made.
    mapping(address device => uint256 key) internal keyOf;

    function setUp() public virtual override {
        super.setUp();
        governance = address(timelock);
        // The pool proves faults and slashes distributors (script/deploy.ts wires the same).
        vm.prank(governance);
        staking.setSlasher(address(pool), true);
        _stakeAs(distributor, INodeStaking.Role.Distributor, MIN_STAKE_DISTRIBUTOR);
        _stakeAs(distributor2, INodeStaking.Role.Distributor, MIN_STAKE_DISTRIBUTOR);
    }

    /// @dev The deployer creates only the pool proxy; the mock and implementation come from this contract.
    function _growthCreates() internal pure override returns (uint256) {
        return 1;
    }

    /// @dev Runs inside the fixture as the deployer, before genesis allocations and the governance hand-over.
    function _deployGrowthPool() internal override {
        vm.stopPrank();
        genesis = uint64(block.timestamp + 1 hours);
        coordinator = _newCoordinator();
        subId = coordinator.createSubscription();
        coordinator.fundSubscription(subId, 1_000_000 ether);
        implementation = deployCode(POOL_ARTIFACT);
        vm.startPrank(deployer);
        pool = IGrowthPoolTestable(
            address(
                new ERC1967Proxy(
                    implementation,
                    _initData(address(timelock), address(token), address(staking), _config(), _vrf())
                )
            )
        );
        vm.stopPrank();
        assertEq(address(pool), growthPoolAddress, "pool proxy address prediction");
        coordinator.addConsumer(subId, address(pool));
        vm.startPrank(deployer);
    }

    // ---------------------------------------------------------------- setup helpers

    function _newCoordinator() internal returns (IVRFCoordinatorMockLike) {
        return IVRFCoordinatorMockLike(deployCode(VRF_MOCK_ARTIFACT, abi.encode(0.1 ether, 1 gwei, 4e15)));
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
                IGrowthPoolTestable.initialize,
                (gov, IERC20(tok), INodeStaking(stk), IDeviceRegistry(address(registry)), c, v, ch)
            );
    }

    function _challenge() internal pure returns (IGrowthPool.ChallengeConfig memory) {
        return IGrowthPool.ChallengeConfig({challengeWindow: CHALLENGE_WINDOW, slashAmount: uint96(SLASH)});
    }

    function _config() internal view returns (IGrowthPool.Config memory) {
        return
            IGrowthPool.Config({
                genesis: genesis,
                epochLength: EPOCH,
                halvingEpochs: H,
                winnersPerEpoch: K,
                claimWindow: WINDOW
            });
    }

    function _vrf() internal view returns (IGrowthPool.VrfConfig memory) {
        return
            IGrowthPool.VrfConfig({
                coordinator: address(coordinator),
                keyHash: KEY_HASH,
                subscriptionId: subId,
                requestConfirmations: 3,
                callbackGasLimit: CALLBACK_GAS
            });
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
