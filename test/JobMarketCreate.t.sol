// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {JobMarketBase} from "./utils/JobMarketBase.sol";
import {IJobMarket} from "../contracts/interfaces/IJobMarket.sol";

contract JobMarketCreateTest is JobMarketBase {
    function _expectNoChange(IJobMarket.JobSpec memory s, bytes memory err) internal {
        uint256 bal = token.balanceOf(alice);
        uint256 count = jm.jobCount();
        vm.expectRevert(err);
        vm.prank(alice);
        jm.createJob(s);
        assertEq(token.balanceOf(alice), bal);
        assertEq(jm.jobCount(), count);
        assertEq(token.balanceOf(address(jm)), 0);
    }

    function test_createJob_escrowsBudgetAndPaysUse() public {
        uint256 budget = defaultBudget();
        assertEq(jm.budgetOf(MAX_DEVICES, REWARD), budget);
        uint256 aliceBefore = token.balanceOf(alice);
        IJobMarket.JobSpec memory s = defaultSpec();
        vm.expectEmit(true, true, true, true);
        emit IJobMarket.JobCreated(1, alice, algorithmId, budget, USE_PRICE, MAX_DEVICES, REWARD, encKey());
        vm.expectEmit(true, true, true, true);
        emit IJobMarket.JobStatusChanged(
            1,
            IJobMarket.JobStatus.None,
            IJobMarket.JobStatus.Created,
            uint64(block.timestamp + 7 days)
        );
        vm.prank(alice);
        uint256 id = jm.createJob(s);
        assertEq(id, 1);
        assertEq(jm.jobCount(), 1);
        assertEq(token.balanceOf(address(jm)), budget);
        assertEq(token.balanceOf(alice), aliceBefore - budget - USE_PRICE);
        assertEq(token.balanceOf(developer), developerShare(USE_PRICE));
        assertEq(token.balanceOf(marketTreasury), USE_PRICE - developerShare(USE_PRICE));
        assertEq(token.allowance(address(jm), address(market)), 0);
        assertEq(jm.escrowOf(id), budget);
        assertEq(uint8(jm.status(id)), uint8(IJobMarket.JobStatus.Created));
        IJobMarket.Job memory j = jm.getJob(id);
        assertEq(j.customer, alice);
        assertEq(j.algorithmId, algorithmId);
        assertEq(j.minDevices, 10);
        assertEq(j.maxDevices, MAX_DEVICES);
        assertEq(j.rewardPerDevice, REWARD);
        assertEq(j.minParticipants, 8);
        assertEq(j.maxStdError, 0.05e18);
        assertEq(j.escrow, budget);
        assertEq(j.deadline, block.timestamp + 7 days);
        assertEq(j.scheduledEpoch, 0);
        assertEq(j.distributor, address(0));
        assertEq(j.aggregator, address(0));
        assertEq(j.cohortRoot, bytes32(0));
        assertEq(j.royaltyBps, 500);
        assertEq(j.commitDuration, 2 hours);
    }

    function test_createJob_withLicencePaysNoUseFee() public {
        buyLicence(bob);
        assertTrue(market.hasLicence(bob, algorithmId));
        uint256 before = token.balanceOf(bob);
        uint256 devBefore = token.balanceOf(developer);
        uint256 treasuryBefore = token.balanceOf(marketTreasury);
        uint256 id = createJobAs(bob);
        assertEq(token.balanceOf(bob), before - defaultBudget());
        assertEq(token.balanceOf(developer), devBefore);
        assertEq(token.balanceOf(marketTreasury), treasuryBefore);
        assertEq(jm.escrowOf(id), defaultBudget());
    }

    function test_createJob_revertsWhenUsePriceAboveMax() public {
        // the customer accepts at most USE_PRICE - 1: the listed price is one wei too high
        IJobMarket.JobSpec memory s = defaultSpec();
        s.maxUsePrice = uint96(USE_PRICE - 1);
        _expectNoChange(
            s,
            abi.encodeWithSelector(IJobMarket.JobMarketUsePriceTooHigh.selector, USE_PRICE, USE_PRICE - 1)
        );
        // exactly the maximum is accepted and paid
        s.maxUsePrice = uint96(USE_PRICE);
        uint256 before = token.balanceOf(alice);
        vm.prank(alice);
        jm.createJob(s);
        assertEq(before - token.balanceOf(alice), defaultBudget() + USE_PRICE);
    }

    function test_createJob_maxUsePriceIgnoredWithLicence() public {
        buyLicence(bob);
        IJobMarket.JobSpec memory s = defaultSpec();
        s.maxUsePrice = 0; // a licensee pays no use price
        uint256 before = token.balanceOf(bob);
        vm.prank(bob);
        jm.createJob(s);
        assertEq(before - token.balanceOf(bob), defaultBudget());
    }

    function test_createJob_freeAlgorithmPaysNoUseFee() public {
        vm.prank(developer);
        uint256 free = market.list("bafy-free", keccak256("model-free"), SCHEMA, 0, 0, 0, "");
        IJobMarket.JobSpec memory s = defaultSpec();
        s.algorithmId = free;
        uint256 before = token.balanceOf(alice);
        vm.prank(alice);
        jm.createJob(s);
        assertEq(before - token.balanceOf(alice), defaultBudget());
        assertEq(token.balanceOf(developer), 0);
        assertEq(token.balanceOf(marketTreasury), 0);
        assertEq(token.balanceOf(address(jm)), defaultBudget());
    }

    function test_createJob_revertsOnUnknownAlgorithm() public {
        IJobMarket.JobSpec memory s = defaultSpec();
        s.algorithmId = 99;
        _expectNoChange(s, abi.encodeWithSelector(IJobMarket.JobMarketAlgorithmNotListed.selector, 99));
    }

    function test_createJob_revertsOnAlgorithmZero() public {
        IJobMarket.JobSpec memory s = defaultSpec();
        s.algorithmId = 0;
        _expectNoChange(s, abi.encodeWithSelector(IJobMarket.JobMarketAlgorithmNotListed.selector, 0));
    }

    /// @dev maxStdError is a uint96 in the spec and in storage: its full range round-trips.
    function test_createJob_storesFullRangeMaxStdError() public {
        IJobMarket.JobSpec memory s = defaultSpec();
        s.maxStdError = type(uint96).max;
        vm.prank(alice);
        uint256 id = jm.createJob(s);
        assertEq(jm.getJob(id).maxStdError, type(uint96).max);
        s.maxStdError = 0;
        vm.prank(alice);
        id = jm.createJob(s);
        assertEq(jm.getJob(id).maxStdError, 0);
    }

    function test_createJob_revertsOnDeprecatedAlgorithm() public {
        vm.prank(developer);
        market.deprecate(algorithmId);
        _expectNoChange(
            defaultSpec(),
            abi.encodeWithSelector(IJobMarket.JobMarketAlgorithmNotListed.selector, algorithmId)
        );
    }

    function test_createJob_revertsOnSchemaMismatch() public {
        IJobMarket.JobSpec memory s = defaultSpec();
        s.schema = keccak256("image/png");
        _expectNoChange(
            s,
            abi.encodeWithSelector(IJobMarket.JobMarketSchemaMismatch.selector, SCHEMA, s.schema)
        );
    }

    function test_createJob_revertsOnInvalidDevices() public {
        bytes memory err = abi.encodeWithSelector(IJobMarket.JobMarketInvalidDevices.selector);
        IJobMarket.JobSpec memory s = defaultSpec();
        s.minDevices = 51; // > max
        _expectNoChange(s, err);
        s = defaultSpec();
        s.minParticipants = 0;
        _expectNoChange(s, err);
        s = defaultSpec();
        s.minParticipants = 11; // > minDevices
        _expectNoChange(s, err);
    }

    function test_createJob_revertsOnZeroReward() public {
        IJobMarket.JobSpec memory s = defaultSpec();
        s.rewardPerDevice = 0;
        _expectNoChange(s, abi.encodeWithSelector(IJobMarket.JobMarketZeroReward.selector));
    }

    function test_createJob_revertsOnInvalidKey() public {
        bytes memory err = abi.encodeWithSelector(IJobMarket.JobMarketInvalidEncryptionKey.selector);
        IJobMarket.JobSpec memory s = defaultSpec();
        s.encryptionKey = abi.encodePacked(bytes1(0x04), keccak256("x"));
        _expectNoChange(s, err);
        s.encryptionKey = abi.encodePacked(keccak256("x"));
        _expectNoChange(s, err);
        s.encryptionKey = "";
        _expectNoChange(s, err);
    }

    function test_createJob_revertsOnDurationOutOfBounds() public {
        bytes memory err = abi.encodeWithSelector(IJobMarket.JobMarketInvalidDuration.selector);
        IJobMarket.JobSpec memory s = defaultSpec();
        s.durations.assignment = 9 minutes;
        _expectNoChange(s, err);
        s = defaultSpec();
        s.durations.settlement = 31 days;
        _expectNoChange(s, err);
        s = defaultSpec();
        s.durations.bidding = 0;
        _expectNoChange(s, err);
    }

    function test_createJob_revertsOnInsufficientAllowance() public {
        vm.prank(alice);
        token.approve(address(jm), 10 ether);
        _expectNoChange(
            defaultSpec(),
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientAllowance.selector,
                address(jm),
                10 ether,
                defaultBudget() + USE_PRICE
            )
        );
    }

    /// @dev Escrow and per-use price are pulled in one transfer: an allowance covering only the budget fails.
    function test_createJob_revertsOnInsufficientAllowanceForUseFee() public {
        vm.prank(alice);
        token.approve(address(jm), defaultBudget());
        _expectNoChange(
            defaultSpec(),
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientAllowance.selector,
                address(jm),
                defaultBudget(),
                defaultBudget() + USE_PRICE
            )
        );
    }

    /// @dev The marketplace reports a use price of USE_PRICE but its payUse pulls only 1 ether (real price changed
    ///      to 1 ether, useTerms answer mocked): JobMarket's balance check rejects the mismatch.
    function test_createJob_revertsWhenMarketPullsWrongAmount() public {
        vm.prank(developer);
        market.updatePrices(algorithmId, 1 ether, 100 ether);
        vm.mockCall(
            address(market),
            abi.encodeCall(market.useTerms, (algorithmId, alice)),
            abi.encode(true, SCHEMA, USE_PRICE)
        );
        _expectNoChange(
            defaultSpec(),
            abi.encodeWithSelector(IJobMarket.JobMarketUsePaymentMismatch.selector, USE_PRICE, 1 ether)
        );
    }

    function test_getJob_revertsOnUnknown() public {
        vm.expectRevert(abi.encodeWithSelector(IJobMarket.JobMarketUnknownJob.selector, 7));
        jm.getJob(7);
        assertEq(uint8(jm.status(7)), 0);
        assertEq(jm.escrowOf(7), 0);
    }

    function test_fuzz_createJob_budgetFormula(
        uint32 maxDevices,
        uint96 reward,
        uint16[6] memory bps
    ) public {
        maxDevices = uint32(bound(maxDevices, 1, 100_000));
        reward = uint96(bound(reward, 1, 1_000 ether));
        IJobMarket.Params memory p = defaultParams();
        uint256 left = BPS;
        uint256[6] memory b;
        for (uint256 i = 0; i < 6; ++i) {
            b[i] = bound(bps[i], 0, left);
            left -= b[i];
        }
        p.fees = IJobMarket.FeeBps(
            uint16(b[0]),
            uint16(b[1]),
            uint16(b[2]),
            uint16(b[3]),
            uint16(b[4]),
            uint16(b[5])
        );
        vm.prank(governance);
        jm.setParams(p);
        uint256 d = uint256(maxDevices) * reward;
        uint256 expected = d;
        for (uint256 i = 0; i < 6; ++i) expected += (d * b[i]) / BPS;
        assertEq(jm.budgetOf(maxDevices, reward), expected);
        assertLe(expected, 2 * d);

        IJobMarket.JobSpec memory s = defaultSpec();
        s.maxDevices = maxDevices;
        s.minDevices = 1;
        s.minParticipants = 1;
        s.rewardPerDevice = reward;
        vm.prank(faucet);
        token.transfer(alice, expected);
        uint256 before = token.balanceOf(alice);
        vm.prank(alice);
        uint256 id = jm.createJob(s);
        assertEq(jm.escrowOf(id), expected);
        assertEq(token.balanceOf(address(jm)), expected);
        assertEq(before - token.balanceOf(alice), expected + USE_PRICE);
        assertEq(jm.getJob(id).protocolFeeBps, b[4]);
    }

    function test_createJob_revertsWhenBudgetExceedsUint96() public {
        IJobMarket.JobSpec memory s = defaultSpec();
        s.maxDevices = type(uint32).max;
        s.rewardPerDevice = type(uint96).max;
        uint256 budget = jm.budgetOf(s.maxDevices, s.rewardPerDevice);
        assertGt(budget, type(uint96).max);
        _expectNoChange(s, abi.encodeWithSelector(IJobMarket.JobMarketBudgetTooLarge.selector, budget));
    }
}
