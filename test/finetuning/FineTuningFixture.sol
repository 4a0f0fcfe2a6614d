// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {LifecycleFixture, TestMerkle} from "../settlement/LifecycleFixture.sol";
import {INodeStaking} from "../../contracts/interfaces/INodeStaking.sol";
import {IDeviceRegistry} from "../../contracts/interfaces/IDeviceRegistry.sol";
import {IAlgorithmMarketplace} from "../../contracts/interfaces/IAlgorithmMarketplace.sol";
import {IFineTuning} from "../../contracts/interfaces/IFineTuning.sol";

interface IFineTuningInit {
    function initialize(
        address governance,
        IERC20 token,
        IAlgorithmMarketplace market,
        INodeStaking staking,
        IDeviceRegistry registry,
        IFineTuning.Params calldata params
    ) external;
}

/// @notice LifecycleFixture plus a FineTuning proxy authorised as marketplace publisher and slasher, and
///         enrolled trainer devices.
abstract contract FineTuningFixture is LifecycleFixture {
    bytes32 internal constant ACCURACY = keccak256("accuracy");
    string internal constant CONTROL = "bafybeicontrolgroupcontrolgroupcontrolgroupcontrolgroup";
    string internal constant NEW_MODEL = "bafybeinewmodelnewmodelnewmodelnewmodelnewmodelnewmodel";
    bytes32 internal constant NEW_SHA = keccak256("new model.onnx");
    uint128 internal constant POOL = 300 ether;
    uint8 internal constant ROUNDS = 3;

    IFineTuning internal ft;
    address[] internal trainers;

    function setUp() public virtual override {
        super.setUp();
        ft = IFineTuning(
            deployProxy(
                deployArtifact("FineTuning", ""),
                abi.encodeCall(
                    IFineTuningInit.initialize,
                    (governance, token, market, staking, registry, ftParams())
                )
            )
        );
        vm.startPrank(governance);
        staking.setSlasher(address(ft), true);
        market.setPublisher(address(ft), true);
        vm.stopPrank();
        vm.prank(customer);
        token.approve(address(ft), type(uint256).max);
        for (uint256 i = 0; i < 4; ++i) {
            address t = makeAddr(string.concat("trainer", vm.toString(i)));
            trainers.push(t);
            registerDevice(t);
        }
    }

    function ftParams() internal pure returns (IFineTuning.Params memory) {
        return
            IFineTuning.Params({
                quorum: Q,
                commitWindow: 1 hours,
                revealWindow: 1 hours,
                slashAmount: SLASH,
                claimWindow: 30 days
            });
    }

    function bountyInput() internal view returns (IFineTuning.BountyInput memory b) {
        b.algorithmId = algorithmId;
        b.controlCid = CONTROL;
        b.metricId = ACCURACY;
        b.minGainBps = 50; // +0.5 accuracy points
        b.rewardPool = POOL;
        b.rounds = ROUNDS;
        b.groupSize = 0;
        b.roundDuration = 1 days;
    }

    function createBounty() internal returns (uint256 id) {
        IFineTuning.BountyInput memory b = bountyInput();
        vm.prank(customer);
        id = ft.createBounty(b);
    }

    function enrolAll(uint256 id) internal {
        for (uint256 i = 0; i < trainers.length; ++i) {
            vm.prank(trainers[i]);
            ft.enrol(id);
        }
    }

    /// @dev Trainer payout leaves: trainer i paid (i + 1) × 5 DML (total 50 DML for 4 trainers).
    function trainerLeaves() internal view returns (bytes32[] memory l) {
        l = new bytes32[](trainers.length);
        for (uint256 i = 0; i < trainers.length; ++i) l[i] = TestMerkle.leaf(trainers[i], (i + 1) * 5 ether);
    }

    function roundClaim(
        uint256 before,
        uint256 after_
    ) internal view returns (IFineTuning.RoundClaim memory c) {
        c.modelCid = NEW_MODEL;
        c.modelSha256 = NEW_SHA;
        c.metricBefore = before;
        c.metricAfter = after_;
        c.acceptedGroupsRoot = keccak256("groups");
        c.payoutRoot = TestMerkle.root(trainerLeaves());
        c.payoutTotal = 50 ether;
    }

    function ftSalt(uint256 id, address a) internal view returns (bytes32) {
        return keccak256(abi.encode("ft-salt", id, ft.getBounty(id).currentRound, a));
    }

    /// @dev Submits `c`, has attestor i vote `votes[i]` (zero = silent) and finalises the round.
    function runRound(uint256 id, IFineTuning.RoundClaim memory c, bytes32[] memory votes) internal {
        vm.prank(refiner);
        ft.submitRound(id, c);
        uint256 round = ft.getBounty(id).currentRound;
        IFineTuning.RoundInfo memory info = ft.getRound(id, round);
        for (uint256 i = 0; i < Q; ++i) {
            if (votes[i] == bytes32(0)) continue;
            address a = info.attestors[i];
            bytes32 commitment = keccak256(abi.encode(votes[i], ftSalt(id, a), a));
            vm.prank(a);
            ft.commitAttestation(id, commitment);
        }
        vm.warp(info.commitDeadline + 1);
        for (uint256 i = 0; i < Q; ++i) {
            if (votes[i] == bytes32(0)) continue;
            address a = info.attestors[i];
            bytes32 salt = ftSalt(id, a);
            vm.prank(a);
            ft.revealAttestation(id, votes[i], salt);
        }
        vm.warp(info.revealDeadline + 1);
        vm.prank(keeper);
        ft.finalizeRound(id);
    }

    function votesFor(bytes32 value) internal pure returns (bytes32[] memory v) {
        v = new bytes32[](Q);
        for (uint256 i = 0; i < Q; ++i) v[i] = value;
    }
}
