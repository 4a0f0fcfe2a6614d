// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {VRFCoordinatorV2_5Mock} from "@chainlink/contracts/src/v0.8/vrf/mocks/VRFCoordinatorV2_5Mock.sol";
import {BaseTest} from "../utils/BaseTest.sol";
import {MerkleHelper} from "../utils/MerkleHelper.sol";
import {DMLToken} from "../../contracts/DMLToken.sol";
import {NodeStaking} from "../../contracts/NodeStaking.sol";
import {GrowthPool} from "../../contracts/GrowthPool.sol";
import {IGrowthPool} from "../../contracts/interfaces/IGrowthPool.sol";
import {INodeStaking} from "../../contracts/interfaces/INodeStaking.sol";

/// @title GrowthPoolBase
/// @notice Deploys DMLToken (9% minted to the predicted GrowthPool proxy), the real NodeStaking behind a proxy,
///         Chainlink's VRFCoordinatorV2_5Mock with a funded subscription, and the GrowthPool proxy; stakes a
///         distributor. Helpers post device lists, fulfil draws and claim.
abstract contract GrowthPoolBase is BaseTest {
    using MerkleHelper for bytes32[];

    uint64 internal constant EPOCH = 1 days;
    uint32 internal constant H = 4;
    uint32 internal constant K = 3;
    uint64 internal constant WINDOW = 7 days;
    uint32 internal constant CALLBACK_GAS = 200_000;
    uint256 internal constant DISTRIBUTOR_STAKE = 1_000 ether;
    bytes32 internal constant KEY_HASH = keccak256("growth-key-hash");
    uint256 internal constant POOL_CAP = (SUPPLY * 900) / BPS;

    address internal governance = makeAddr("governance");
    address internal treasury = makeAddr("treasury");
    address internal distributor = makeAddr("distributor");
    address internal distributor2 = makeAddr("distributor2");

    DMLToken internal token;
    NodeStaking internal staking;
    VRFCoordinatorV2_5Mock internal coordinator;
    GrowthPool internal pool;
    GrowthPool internal implementation;
    uint256 internal subId;
    uint64 internal genesis;

    function setUp() public virtual {
        vm.warp(1_700_000_000);
        genesis = uint64(block.timestamp + 1 hours);
        coordinator = new VRFCoordinatorV2_5Mock(0.1 ether, 1 gwei, 4e15);
        subId = coordinator.createSubscription();
        coordinator.fundSubscription(subId, 1_000_000 ether);

        implementation = new GrowthPool();
        NodeStaking stakingImpl = new NodeStaking();
        uint256 nonce = vm.getNonce(address(this));
        // token at `nonce`, staking proxy at `nonce + 1`, pool proxy at `nonce + 2`
        address predicted = vm.computeCreateAddress(address(this), nonce + 2);
        token = new DMLToken(treasury, predicted);
        uint256[5] memory minStakes;
        for (uint256 i = 0; i < 5; ++i) minStakes[i] = DISTRIBUTOR_STAKE;
        staking = NodeStaking(
            deployProxy(
                address(stakingImpl),
                abi.encodeCall(
                    NodeStaking.initialize,
                    (governance, IERC20(address(token)), treasury, minStakes, 1 days, 1_000, true)
                )
            )
        );
        pool = GrowthPool(
            deployProxy(
                address(implementation),
                abi.encodeCall(
                    GrowthPool.initialize,
                    (governance, IERC20(address(token)), INodeStaking(address(staking)), _config(), _vrf())
                )
            )
        );
        assertEq(address(pool), predicted, "pool proxy address prediction");
        coordinator.addConsumer(subId, address(pool));

        _stakeDistributor(distributor);
        _stakeDistributor(distributor2);
    }

    // ---------------------------------------------------------------- setup helpers

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

    function _stakeDistributor(address who) internal {
        vm.prank(treasury);
        token.transfer(who, DISTRIBUTOR_STAKE);
        vm.startPrank(who);
        staking.register("https://node.example", keccak256(abi.encode(who)), "");
        token.approve(address(staking), DISTRIBUTOR_STAKE);
        staking.stake(INodeStaking.Role.Distributor, DISTRIBUTOR_STAKE);
        vm.stopPrank();
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
