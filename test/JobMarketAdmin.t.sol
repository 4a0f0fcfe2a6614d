// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {JobMarketBase} from "./utils/JobMarketBase.sol";
import {JobMarket} from "../contracts/JobMarket.sol";
import {IJobMarket} from "../contracts/interfaces/IJobMarket.sol";
import {IGovernedUUPS} from "../contracts/interfaces/IGovernedUUPS.sol";
import {INodeStaking} from "../contracts/interfaces/INodeStaking.sol";
import {IAlgorithmMarketplace} from "../contracts/interfaces/IAlgorithmMarketplace.sol";
import {IDeviceRegistry} from "../contracts/interfaces/IDeviceRegistry.sol";
import {JobMarketV2} from "./mocks/JobMarketV2.sol";

contract JobMarketAdminTest is JobMarketBase {
    function _init(
        address gov,
        address tok,
        address tre,
        IJobMarket.Params memory p
    ) internal returns (address) {
        JobMarket impl = new JobMarket();
        return
            deployProxy(
                address(impl),
                abi.encodeCall(
                    JobMarket.initialize,
                    (
                        gov,
                        IERC20(tok),
                        IAlgorithmMarketplace(address(market)),
                        INodeStaking(address(staking)),
                        IDeviceRegistry(address(registry)),
                        tre,
                        p
                    )
                )
            );
    }

    function test_initialize_setsState() public view {
        assertEq(jm.governance(), governance);
        assertEq(address(jm.token()), address(token));
        assertEq(address(jm.market()), address(market));
        assertEq(address(jm.staking()), address(staking));
        assertEq(address(jm.registry()), address(registry));
        assertEq(jm.treasury(), treasury);
        assertEq(jm.currentEpoch(), 0);
        assertEq(jm.jobCount(), 0);
        IJobMarket.Params memory p = jm.params();
        assertEq(p.capacity, 2);
        assertEq(p.maxBidsPerEpoch, 64);
        assertEq(p.reservePrice, 1 ether);
        assertEq(p.fees.royalty, 500);
        (uint256 start, uint256 commitEnd, uint256 revealEnd, uint256 end) = jm.epochWindows(0);
        assertEq(start, block.timestamp);
        assertEq(commitEnd, block.timestamp + 30 minutes);
        assertEq(revealEnd, block.timestamp + 50 minutes);
        assertEq(end, block.timestamp + 1 hours);
    }

    function test_initialize_emitsEvents() public {
        JobMarket impl = new JobMarket();
        vm.expectEmit(true, true, true, true);
        emit IGovernedUUPS.GovernanceTransferred(address(0), governance);
        vm.expectEmit(true, true, true, true);
        emit IJobMarket.TreasuryUpdated(address(0), treasury);
        vm.expectEmit(true, true, true, true);
        emit IJobMarket.AuctionTimingScheduled(0, block.timestamp, 1 hours, 30 minutes, 20 minutes);
        vm.expectEmit(true, true, true, true);
        emit IJobMarket.ParamsUpdated(defaultParams());
        deployProxy(
            address(impl),
            abi.encodeCall(
                JobMarket.initialize,
                (
                    governance,
                    IERC20(address(token)),
                    IAlgorithmMarketplace(address(market)),
                    INodeStaking(address(staking)),
                    IDeviceRegistry(address(registry)),
                    treasury,
                    defaultParams()
                )
            )
        );
    }

    function test_initialize_revertsOnZeroAddress() public {
        JobMarket impl = new JobMarket();
        bytes memory data = abi.encodeCall(
            JobMarket.initialize,
            (
                governance,
                IERC20(address(token)),
                IAlgorithmMarketplace(address(market)),
                INodeStaking(address(staking)),
                IDeviceRegistry(address(registry)),
                address(0),
                defaultParams()
            )
        );
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarketZeroAddress.selector));
        deployProxy(address(impl), data);
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarketZeroAddress.selector));
        this.initExternal(governance, address(0), treasury);
        vm.expectRevert(abi.encodeWithSelector(IGovernedUUPS.GovernedZeroAddress.selector));
        this.initExternal(address(0), address(token), treasury);
    }

    function initExternal(address gov, address tok, address tre) external returns (address) {
        return _init(gov, tok, tre, defaultParams());
    }

    function test_initialize_revertsOnInvalidParams() public {
        IJobMarket.Params memory p = defaultParams();
        p.capacity = 0;
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarketInvalidParams.selector));
        this.initParams(p);
    }

    function initParams(IJobMarket.Params memory p) external returns (address) {
        return _init(governance, address(token), treasury, p);
    }

    function test_initialize_cannotReinitialize() public {
        vm.expectRevert(abi.encodeWithSelector(Initializable.InvalidInitialization.selector));
        jm.initialize(
            governance,
            IERC20(address(token)),
            IAlgorithmMarketplace(address(market)),
            INodeStaking(address(staking)),
            IDeviceRegistry(address(registry)),
            treasury,
            defaultParams()
        );
    }

    function test_implementation_initializersDisabled() public {
        JobMarket impl = new JobMarket();
        vm.expectRevert(abi.encodeWithSelector(Initializable.InvalidInitialization.selector));
        impl.initialize(
            governance,
            IERC20(address(token)),
            IAlgorithmMarketplace(address(market)),
            INodeStaking(address(staking)),
            IDeviceRegistry(address(registry)),
            treasury,
            defaultParams()
        );
    }

    // ---------------------------------------------------------------- setParams

    function test_setParams_updatesAndEmits() public {
        IJobMarket.Params memory p = defaultParams();
        p.capacity = 5;
        p.reservePrice = 3 ether;
        vm.expectEmit(true, true, true, true);
        emit IJobMarket.ParamsUpdated(p);
        vm.prank(governance);
        jm.setParams(p);
        assertEq(jm.params().capacity, 5);
        assertEq(jm.params().reservePrice, 3 ether);
    }

    function test_setParams_revertsWhenNotGovernance() public {
        IJobMarket.Params memory p = defaultParams();
        vm.expectRevert(abi.encodeWithSelector(IGovernedUUPS.GovernedUnauthorized.selector, alice));
        vm.prank(alice);
        jm.setParams(p);
    }

    function test_setParams_revertsOnEachBound() public {
        IJobMarket.Params[] memory bad = new IJobMarket.Params[](12);
        for (uint256 i = 0; i < bad.length; ++i) bad[i] = defaultParams();
        bad[0].epochLength = 59;
        bad[1].epochLength = 31 days;
        bad[2].commitWindow = 0;
        bad[3].revealWindow = 0;
        bad[4].commitWindow = 50 minutes; // commit + reveal > epoch
        bad[5].capacity = 0;
        bad[6].maxBidsPerEpoch = 257;
        bad[7].capacity = 65; // > maxBidsPerEpoch
        bad[8].unrevealedPenaltyBps = 10_001;
        bad[9].fees.protocol = 8_600; // fee sum > 100%
        bad[10].minPhaseDuration = 0;
        bad[11].minPhaseDuration = 31 days; // > max
        for (uint256 i = 0; i < bad.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarketInvalidParams.selector));
            vm.prank(governance);
            jm.setParams(bad[i]);
        }
        assertEq(abi.encode(jm.params()), abi.encode(defaultParams()));
    }

    function test_setParams_timingChangeTakesEffectNextEpoch() public {
        vm.warp(block.timestamp + 10 minutes); // inside epoch 0
        (uint256 start0, , , uint256 end0) = jm.epochWindows(0);
        IJobMarket.Params memory p = defaultParams();
        p.epochLength = 2 hours;
        p.commitWindow = 1 hours;
        vm.expectEmit(true, true, true, true);
        emit IJobMarket.AuctionTimingScheduled(1, end0, 2 hours, 1 hours, 20 minutes);
        vm.prank(governance);
        jm.setParams(p);
        // epoch 0 keeps its windows
        (uint256 s, uint256 c, , uint256 e) = jm.epochWindows(0);
        assertEq(s, start0);
        assertEq(c, start0 + 30 minutes);
        assertEq(e, end0);
        assertEq(jm.currentEpoch(), 0);
        // epoch 1 starts at the old boundary with the new length
        (s, c, , e) = jm.epochWindows(1);
        assertEq(s, end0);
        assertEq(c, end0 + 1 hours);
        assertEq(e, end0 + 2 hours);
        assertEq(jm.epochOf(end0 + 2 hours - 1), 1);
        assertEq(jm.epochOf(end0 + 2 hours), 2);
        vm.warp(end0 + 3 hours);
        assertEq(jm.currentEpoch(), 2);
    }

    function test_setParams_revertingTimingCancelsPendingChange() public {
        IJobMarket.Params memory p = defaultParams();
        p.epochLength = 2 hours;
        vm.prank(governance);
        jm.setParams(p);
        vm.prank(governance);
        jm.setParams(defaultParams());
        (uint256 s, , , uint256 e) = jm.epochWindows(1);
        assertEq(e - s, 1 hours);
    }

    // ---------------------------------------------------------------- setTreasury / setModule

    function test_setTreasury_updatesAndEmits() public {
        vm.expectEmit(true, true, true, true);
        emit IJobMarket.TreasuryUpdated(treasury, bob);
        vm.prank(governance);
        jm.setTreasury(bob);
        assertEq(jm.treasury(), bob);
    }

    function test_setTreasury_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarketZeroAddress.selector));
        vm.prank(governance);
        jm.setTreasury(address(0));
        vm.expectRevert(abi.encodeWithSelector(IGovernedUUPS.GovernedUnauthorized.selector, alice));
        vm.prank(alice);
        jm.setTreasury(alice);
        assertEq(jm.treasury(), treasury);
    }

    function test_setModule_setsAndEmits() public {
        bytes32 role = jm.SETTLEMENT_MODULE();
        vm.expectEmit(true, true, true, true);
        emit IJobMarket.ModuleSet(role, bob);
        vm.prank(governance);
        jm.setModule(role, bob);
        assertEq(jm.moduleOf(role), bob);
        assertEq(jm.moduleOf(jm.ATTESTATION_MODULE()), attestation);
    }

    function test_setModule_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarketUnknownModuleRole.selector, bytes32("x")));
        vm.prank(governance);
        jm.setModule(bytes32("x"), bob);
        bytes32 role = jm.SETTLEMENT_MODULE();
        vm.expectRevert(abi.encodeWithSelector(IGovernedUUPS.GovernedUnauthorized.selector, alice));
        vm.prank(alice);
        jm.setModule(role, alice);
        assertEq(jm.moduleOf(role), settlementModule);
    }

    // ---------------------------------------------------------------- upgrade

    function test_upgrade_keepsState() public {
        uint256 a = attestedJob(alice);
        warpToNextEpoch();
        uint256 b = createJobAs(bob);
        commitAs(bob, b, 3 ether, 4 ether);
        IJobMarket.Job memory ja = jm.getJob(a);
        IJobMarket.Job memory jb = jm.getJob(b);
        uint256 bal = token.balanceOf(address(jm));

        JobMarketV2 v2 = new JobMarketV2();
        vm.expectEmit(true, true, true, true);
        emit JobMarketV2.UpgradedToV2();
        vm.prank(governance);
        jm.upgradeToAndCall(address(v2), abi.encodeCall(JobMarketV2.initializeV2, ()));
        assertEq(JobMarketV2(address(jm)).version(), 2);
        vm.expectRevert(abi.encodeWithSelector(Initializable.InvalidInitialization.selector));
        JobMarketV2(address(jm)).initializeV2();
        assertEq(abi.encode(jm.getJob(a)), abi.encode(ja));
        assertEq(abi.encode(jm.getJob(b)), abi.encode(jb));
        assertEq(jm.jobCount(), 2);
        assertEq(jm.governance(), governance);
        assertEq(jm.treasury(), treasury);
        assertEq(jm.moduleOf(jm.SETTLEMENT_MODULE()), settlementModule);
        assertEq(token.balanceOf(address(jm)), bal);
        assertEq(abi.encode(jm.params()), abi.encode(defaultParams()));
        // still works after the upgrade
        warpToReveal();
        jm.revealBid(b, 3 ether, saltOf(b));
        assertTrue(jm.getJob(b).revealed);
    }

    function test_upgrade_revertsWhenNotGovernance() public {
        JobMarketV2 v2 = new JobMarketV2();
        vm.expectRevert(abi.encodeWithSelector(IGovernedUUPS.GovernedUnauthorized.selector, alice));
        vm.prank(alice);
        jm.upgradeToAndCall(address(v2), "");
    }
}
