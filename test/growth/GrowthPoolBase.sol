// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {ProtocolFixture} from "../utils/ProtocolFixture.sol";
import {MerkleHelper} from "../utils/MerkleHelper.sol";
import {IGrowthPool} from "../../contracts/interfaces/IGrowthPool.sol";
import {IGovernedUUPS} from "../../contracts/interfaces/IGovernedUUPS.sol";
import {INodeStaking} from "../../contracts/interfaces/INodeStaking.sol";

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
        IGrowthPool.Config calldata config,
        IGrowthPool.VrfConfig calldata vrf
    ) external;

    function upgradeToAndCall(address implementation, bytes calldata data) external payable;

    // solhint-disable-next-line func-name-mixedcase
    function DRAW_RETRY_DELAY() external view returns (uint256);

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

    address internal distributor = makeAddr("distributor");
    address internal distributor2 = makeAddr("distributor2");
    /// @dev The governance address: the timelock (tests prank it for parameter calls).
    address internal governance;

    IVRFCoordinatorMockLike internal coordinator;
    IGrowthPoolTestable internal pool;
    address internal implementation;
    uint256 internal subId;
    uint64 internal genesis;

    function setUp() public virtual override {
        super.setUp();
        governance = address(timelock);
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
    ) internal pure returns (bytes memory) {
        return abi.encodeCall(IGrowthPoolTestable.initialize, (gov, IERC20(tok), INodeStaking(stk), c, v));
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

    /// @dev `n` distinct device addresses for a list tagged by `salt`.
    function _devices(uint256 n, uint256 salt) internal pure returns (address[] memory devices) {
        devices = new address[](n);
        for (uint256 i = 0; i < n; ++i) {
            devices[i] = address(uint160(uint256(keccak256(abi.encode("device", salt, i)))));
        }
    }

    function _warpToEnd(uint256 epoch) internal {
        uint256 end = pool.epochEnd(epoch);
        if (block.timestamp < end) vm.warp(end);
    }

    /// @dev Warps past `epoch`, posts `devices` (empty: n = 0) and returns the VRF request id and the tree.
    function _post(
        uint256 epoch,
        address[] memory devices
    ) internal returns (uint256 requestId, bytes32[] memory tree) {
        _warpToEnd(epoch);
        bytes32 root;
        if (devices.length != 0) {
            tree = MerkleHelper.build(devices);
            root = tree.root();
        }
        vm.prank(distributor);
        requestId = pool.postEpoch(epoch, root, devices.length, "bafy-device-list");
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
        pool.claim(epoch, j, winner, index, tree.proofOf(winner, index));
    }

    function _e0() internal pure returns (uint256) {
        return POOL_CAP / (2 * uint256(H));
    }
}
