// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IJobMarket} from "../../../contracts/interfaces/IJobMarket.sol";
import {INodeStaking} from "../../../contracts/interfaces/INodeStaking.sol";
import {IResultAttestation} from "../../../contracts/interfaces/IResultAttestation.sol";
import {ISettlement} from "../../../contracts/interfaces/ISettlement.sol";
import {MerkleHelper} from "../../utils/MerkleHelper.sol";
import {Cohorts} from "../../utils/ProtocolFixture.sol";

/// @notice Drives prediction jobs through JobMarket, ResultAttestation and Settlement with fuzzed behaviour:
///         jobs stall at any phase (distributor, aggregator, attestors or reporter silent) or run to the end;
///         attestors are honest, lie or stay silent (before or after committing); the aggregator is honest, wrong
///         or silent; reveals come in any order (a unanimous quorum finalises itself); reports succeed or fail;
///         devices claim by index, replay claims, use other jobs' proofs or wrong indices; fees are withdrawn by
///         third parties; pools are swept; time passes and overdue jobs are timed out. Several senders act
///         (customers, reporters, relayers). Every input is bounded and no action reverts: calls expected to
///         fail are made in `try` and their error is checked. Ghost variables record every violation.
contract JobLifecycleHandler is Test {
    uint256 internal constant Q = 3;
    uint256 internal constant MAX_LEAVES = 12;
    uint256 internal constant MIN_STAKE = 1_000 ether;
    bytes32 internal constant AGG_HASH = keccak256("aggregate");

    // Attestor behaviour kinds.
    uint8 internal constant NO_COMMIT = 0;
    uint8 internal constant NO_REVEAL = 1;
    uint8 internal constant HONEST = 2;
    uint8 internal constant LIAR = 3;

    IERC20 public immutable token;
    IJobMarket public immutable jm;
    INodeStaking public immutable staking;
    IResultAttestation public immutable ra;
    ISettlement public immutable settlement;
    address public immutable distributor;
    address public immutable aggregator;
    address public immutable developer;
    address public immutable treasury;
    address public immutable funder;
    IJobMarket.JobSpec internal spec;
    address[] internal attestorSet;
    address[] internal customers;
    address[] internal reporters;
    address[] internal relayers;
    /// @dev Every address that can hold fees in the ledger, plus one that never does.
    address[] internal feeAccounts;

    struct JobGhost {
        address customer;
        uint256 escrow0; // escrow at creation
        uint8[3] kinds; // attestor i's behaviour
        bool aggHonest;
        bool aggReveals;
        bool finalised; // the attestation outcome was checked
        uint256 leaves; // payout list: leaf i = (i, device(i), unit × (1 + i % 3))
        uint256 unit;
        uint256 toSettlement; // what the JobMarket paid Settlement for the job
        uint256 resultSeed; // the job's true result (what honest nodes attest and the reporter presents)
    }

    uint256[] public jobs;
    mapping(uint256 jobId => JobGhost) internal ghost;
    mapping(uint256 jobId => mapping(uint256 index => bool)) public claimedGhost;
    mapping(uint256 jobId => uint256) public claimedAmount;

    // Conservation.
    uint256 public ghostEscrowIn;
    uint256 public ghostRefunded;
    uint256 public ghostToSettlement;
    uint256 public ghostClaimsPaid;
    uint256 public ghostSwept;
    uint256 public ghostFeesWithdrawn;
    uint256 public ghostProtocolWithdrawn;

    // Violations (must stay zero).
    uint256 public ghostDoubleClaims;
    uint256 public ghostUnexpectedClaims; // a claim that succeeded or failed against expectation
    uint256 public ghostWrongPayments; // a transfer that did not pay the expected account the expected amount
    uint256 public ghostHonestMajorityNotFinal;
    uint256 public ghostUnanimousNotAuto;
    uint256 public ghostUnslashedFaults;
    uint256 public ghostWrongSlashes; // an honest node slashed
    uint256 public ghostTimeoutFailures;
    uint256 public ghostPayoutAboveEscrow;
    uint256 public ghostPartyRewarded; // a party of the job earned a challenger share by finalizing
    uint256 public ghostChallengerUnpaid; // an outsider finalized a slashing outcome and earned nothing
    uint256 public ghostPartyFinalizes;

    // Coverage counters.
    uint256 public ghostClaims;
    uint256 public ghostRejectedClaims;
    uint256 public ghostAutoFinalised;
    uint256 public ghostFinalizeCalls;
    uint256 public ghostSweeps;
    uint256 public ghostExpired;
    uint256 public ghostReports;

    struct Actors {
        address[] customers;
        address[] reporters;
        address distributor;
        address aggregator;
        address developer;
        address treasury;
        address funder;
    }

    constructor(
        IERC20 token_,
        IJobMarket jm_,
        INodeStaking staking_,
        IResultAttestation ra_,
        ISettlement settlement_,
        Actors memory actors,
        address[] memory attestors_,
        IJobMarket.JobSpec memory spec_
    ) {
        token = token_;
        jm = jm_;
        staking = staking_;
        ra = ra_;
        settlement = settlement_;
        customers = actors.customers;
        reporters = actors.reporters;
        distributor = actors.distributor;
        aggregator = actors.aggregator;
        developer = actors.developer;
        treasury = actors.treasury;
        funder = actors.funder;
        attestorSet = attestors_;
        spec = spec_;
        for (uint256 i = 0; i < 3; ++i) relayers.push(makeAddr(string.concat("relayer", vm.toString(i))));
        feeAccounts.push(distributor);
        feeAccounts.push(aggregator);
        feeAccounts.push(developer);
        for (uint256 i = 0; i < reporters.length; ++i) feeAccounts.push(reporters[i]);
        for (uint256 i = 0; i < attestors_.length; ++i) feeAccounts.push(attestors_[i]);
        feeAccounts.push(relayers[0]); // never earns fees
    }

    // ------------------------------------------------------------------------------------------- views

    function jobCount() external view returns (uint256) {
        return jobs.length;
    }

    function feeAccountCount() external view returns (uint256) {
        return feeAccounts.length;
    }

    function feeAccount(uint256 i) external view returns (address) {
        return feeAccounts[i];
    }

    function escrowAtCreation(uint256 jobId) external view returns (uint256) {
        return ghost[jobId].escrow0;
    }

    function paidToSettlement(uint256 jobId) external view returns (uint256) {
        return ghost[jobId].toSettlement;
    }

    function device(uint256 i) public pure returns (address) {
        return address(uint160(uint256(keccak256(abi.encode("invariant-device", i)))));
    }

    /// @dev Whether `s` is a terminal JobMarket status.
    function isTerminal(IJobMarket.JobStatus s) public pure returns (bool) {
        return
            s == IJobMarket.JobStatus.Settled ||
            s == IJobMarket.JobStatus.Failed ||
            s == IJobMarket.JobStatus.Expired ||
            s == IJobMarket.JobStatus.Cancelled;
    }

    // ------------------------------------------------------------------------------------------- actions

    /// @notice A customer creates a job that is scheduled, then runs up to a fuzzed stage:
    ///         0 the distributor is silent, 1 the aggregator never commits, 2 the quorum is left open (nobody
    ///         finalizes), 3 the reporter is silent, otherwise the job is reported. `reportSeed` fixes the job's
    ///         true result (PROTOCOL.md §7.4): what honest nodes attest and what the reporter must present.
    function startJob(uint256 actorSeed, uint256 stage, uint256 behaviourSeed, uint256 reportSeed) external {
        _topUpStakes();
        stage = stage % 12; // 4…11: run to the end
        uint256 jobId = _scheduled(customers[actorSeed % customers.length]);
        ghost[jobId].resultSeed = reportSeed;
        if (stage >= 1) {
            vm.prank(distributor);
            // epoch 0: the fixture's standing connected set (LifecycleFixture.CONNECTED_EPOCH)
            Cohorts.assign(
                ra,
                jobId,
                keccak256(abi.encode("cohort", jobId)),
                20,
                "bafy-cohort",
                aggregator,
                0
            );
        }
        if (stage >= 2) {
            _attest(jobId, behaviourSeed);
            if (stage >= 3 && ra.statusOf(jobId) == IResultAttestation.Status.Committed) {
                _finalize(jobId, _finalizer(jobId, actorSeed >> 8));
            }
            if (stage >= 4 && jm.status(jobId) == IJobMarket.JobStatus.Attested) _report(jobId, reportSeed);
        }
        _expireOverdue(actorSeed);
    }

    /// @notice Someone finalizes a quorum left open, after its reveal deadline; the job may then be reported.
    function finalizeOpen(
        uint256 jobSeed,
        uint256 senderSeed,
        uint256 reportSeed,
        bool reportAfter
    ) external {
        uint256 jobId = 0;
        for (uint256 k = 0; k < jobs.length && jobId == 0; ++k) {
            uint256 candidate = jobs[((jobSeed % jobs.length) + k) % jobs.length];
            if (ra.statusOf(candidate) == IResultAttestation.Status.Committed) jobId = candidate;
        }
        if (jobId == 0) return;
        IResultAttestation.Attestation memory a = ra.attestationOf(jobId);
        if (block.timestamp <= a.revealDeadline) vm.warp(uint256(a.revealDeadline) + 1);
        _finalize(jobId, _finalizer(jobId, senderSeed));
        if (reportAfter && jm.status(jobId) == IJobMarket.JobStatus.Attested) _report(jobId, reportSeed);
        _expireOverdue(senderSeed);
    }

    /// @notice A reporter reports an Attested job still within its report phase.
    function report(uint256 jobSeed, uint256 reportSeed) external {
        for (uint256 k = 0; k < jobs.length; ++k) {
            uint256 jobId = jobs[((jobSeed % jobs.length) + k) % jobs.length];
            if (jm.status(jobId) != IJobMarket.JobStatus.Attested) continue;
            if (block.timestamp > jm.getJob(jobId).deadline) continue;
            _report(jobId, reportSeed);
            return;
        }
    }

    /// @notice Relayers (or the devices) submit three claims: right leaves, replays, other jobs' leaves and
    ///         proofs, or right leaves under wrong indices.
    function claim(
        uint256 jobSeed,
        uint256 proofJobSeed,
        uint256 leafSeed,
        uint256 mode,
        uint256 senderSeed
    ) external {
        for (uint256 k = 0; k < 3; ++k) {
            _claimOnce(
                uint256(keccak256(abi.encode(jobSeed, k))),
                uint256(keccak256(abi.encode(proofJobSeed, k))),
                uint256(keccak256(abi.encode(leafSeed, k))),
                k == 0 ? mode : uint256(keccak256(abi.encode(mode, k))),
                uint256(keccak256(abi.encode(senderSeed, k)))
            );
        }
    }

    function _claimOnce(
        uint256 jobSeed,
        uint256 proofJobSeed,
        uint256 leafSeed,
        uint256 mode,
        uint256 senderSeed
    ) internal {
        mode = mode % 6; // 0…2 own list; 3 another job's list; 4 own list, wrong index; 5 replay of a paid leaf
        (uint256 proofJob, bool found) = _jobWithList(proofJobSeed);
        if (!found) return;
        uint256 jobId = proofJob;
        if (mode == 3) {
            (jobId, ) = _jobWithList(jobSeed); // may be the same job
            if (jobSeed % 4 == 0) jobId = jobs[jobSeed % jobs.length]; // may have no list
        }
        uint256 leafIndex = leafSeed % ghost[proofJob].leaves;
        if (mode == 5) {
            for (uint256 i = 0; i < ghost[proofJob].leaves; ++i) {
                uint256 candidate = (leafIndex + i) % ghost[proofJob].leaves;
                if (claimedGhost[proofJob][candidate]) {
                    leafIndex = candidate;
                    break;
                }
            }
        }
        (address account, uint256 amount, bytes32[] memory proof) = _leafOf(proofJob, leafIndex);
        uint256 index = mode == 4 ? leafIndex + 1 + ((leafSeed >> 64) % 300) : leafIndex;
        address sender = senderSeed % 2 == 0 ? relayers[(senderSeed >> 1) % relayers.length] : account;
        _tryClaim(jobId, index, account, amount, proof, _tree(proofJob)[0], sender);
    }

    function _tryClaim(
        uint256 jobId,
        uint256 index,
        address account,
        uint256 amount,
        bytes32[] memory proof,
        bytes32 proofRoot,
        address sender
    ) internal {
        bytes4 expected = _expectedClaimError(jobId, index, account, amount, proofRoot);
        uint256 before = token.balanceOf(account);
        vm.prank(sender);
        try settlement.claim(jobId, index, account, amount, proof) {
            if (claimedGhost[jobId][index]) ++ghostDoubleClaims;
            if (expected != bytes4(0)) ++ghostUnexpectedClaims;
            if (token.balanceOf(account) - before != amount) ++ghostWrongPayments;
            claimedGhost[jobId][index] = true;
            claimedAmount[jobId] += amount;
            ghostClaimsPaid += amount;
            ++ghostClaims;
        } catch (bytes memory err) {
            if (bytes4(err) != expected || expected == bytes4(0)) ++ghostUnexpectedClaims;
            ++ghostRejectedClaims;
        }
    }

    /// @notice Anyone withdraws an account's fees (or tries to, for an account with none).
    function withdrawFees(uint256 accountSeed, uint256 senderSeed) external {
        address account = feeAccounts[accountSeed % feeAccounts.length];
        uint256 owed = settlement.feesOf(account);
        uint256 before = token.balanceOf(account);
        vm.prank(relayers[senderSeed % relayers.length]);
        try settlement.withdrawFees(account) {
            if (owed == 0 || token.balanceOf(account) - before != owed) ++ghostWrongPayments;
            ghostFeesWithdrawn += owed;
        } catch (bytes memory err) {
            if (owed != 0 || bytes4(err) != ISettlement.SettlementNoFees.selector) ++ghostWrongPayments;
        }
    }

    /// @notice Anyone sends the protocol fees to the treasury.
    function withdrawProtocolFees(uint256 senderSeed) external {
        uint256 owed = settlement.protocolFees();
        uint256 before = token.balanceOf(treasury);
        vm.prank(relayers[senderSeed % relayers.length]);
        try settlement.withdrawProtocolFees() {
            if (owed == 0 || token.balanceOf(treasury) - before != owed) ++ghostWrongPayments;
            ghostProtocolWithdrawn += owed;
        } catch (bytes memory err) {
            if (owed != 0 || bytes4(err) != ISettlement.SettlementNoFees.selector) ++ghostWrongPayments;
        }
    }

    /// @notice Anyone sweeps a job's unclaimed payouts, possibly after waiting for the claim window to end.
    function sweep(uint256 jobSeed, uint256 senderSeed, bool waitForWindow) external {
        (uint256 jobId, bool found) = _jobWithList(jobSeed);
        if (!found) return;
        ISettlement.Report memory r = settlement.reportOf(jobId);
        if (r.swept) return;
        if (waitForWindow && block.timestamp <= r.claimDeadline) vm.warp(uint256(r.claimDeadline) + 1);
        bool open = block.timestamp <= r.claimDeadline;
        uint256 remaining = r.payoutTotal - r.claimed;
        uint256 before = token.balanceOf(treasury);
        vm.prank(relayers[senderSeed % relayers.length]);
        try settlement.sweep(jobId) {
            if (open || token.balanceOf(treasury) - before != remaining) ++ghostWrongPayments;
            ghostSwept += remaining;
            ++ghostSweeps;
        } catch (bytes memory err) {
            if (!open || bytes4(err) != ISettlement.SettlementClaimWindowOpen.selector) ++ghostWrongPayments;
        }
        _expireOverdue(senderSeed);
    }

    /// @notice Time passes; overdue jobs are timed out (and their silent nodes slashed).
    function warp(uint256 secondsSeed, uint256 senderSeed) external {
        vm.warp(block.timestamp + bound(secondsSeed, 1, 3 days));
        _expireOverdue(senderSeed);
    }

    // ------------------------------------------------------------------------------------------- job flow

    function _scheduled(address customer) internal returns (uint256 jobId) {
        (, uint256 cEnd, , uint256 eEnd) = jm.epochWindows(jm.currentEpoch());
        if (block.timestamp >= cEnd) vm.warp(eEnd);
        vm.prank(customer);
        jobId = jm.createJob(spec);
        jobs.push(jobId);
        JobGhost storage g = ghost[jobId];
        g.customer = customer;
        g.escrow0 = jm.escrowOf(jobId);
        ghostEscrowIn += g.escrow0;
        uint256 epoch = jm.currentEpoch();
        bytes32 salt = keccak256(abi.encode("bid", jobId));
        vm.prank(customer);
        jm.commitBid(jobId, keccak256(abi.encode(jobId, uint256(2 ether), salt, customer)), 2 ether);
        (, uint256 commitEnd, uint256 revealEnd, ) = jm.epochWindows(epoch);
        vm.warp(commitEnd);
        jm.revealBid(jobId, 2 ether, salt);
        vm.warp(revealEnd);
        jm.finalizeEpoch(epoch);
        vm.roll(block.number + 2); // past the block whose hash seeds the epoch (PROTOCOL.md §7.1)
    }

    /// @dev The value honest nodes attest for `jobId`: the resultHash of its true result.
    function _honestValue(uint256 jobId) internal view returns (bytes32) {
        (ISettlement.ReportInput memory r, , ) = _resultOf(jobId);
        ISettlement.Result memory x = r.result;
        return
            keccak256(abi.encode(x.aggregateHash, x.payoutRoot, x.payoutTotal, x.participants, x.qualityMet));
    }

    function _vote(uint256 jobId, uint256 i) internal view returns (bytes32) {
        uint8 kind = ghost[jobId].kinds[i];
        return kind == LIAR ? keccak256(abi.encode("lie", jobId, i)) : _honestValue(jobId);
    }

    function _attSalt(uint256 jobId, uint256 i) internal pure returns (bytes32) {
        return keccak256(abi.encode("att", jobId, i));
    }

    /// @dev Commit and reveal with fuzzed behaviour and reveal order. Unanimous quorums finalise themselves.
    function _attest(uint256 jobId, uint256 seed) internal {
        JobGhost storage g = ghost[jobId];
        // Honest behaviour is the most likely so that both unanimous and contested quorums are common.
        for (uint256 i = 0; i < Q; ++i) {
            uint256 k = (seed >> (4 * i)) % 8;
            g.kinds[i] =
                k == 0
                    ? NO_COMMIT
                    : k == 1
                        ? NO_REVEAL
                        : k == 2
                            ? LIAR
                            : HONEST;
        }
        uint256 aggKind = (seed >> 16) % 6;
        g.aggHonest = aggKind != 0;
        g.aggReveals = aggKind != 1;
        bool aggregatorFirst = (seed >> 24) % 2 == 0;
        bytes32 aggValue = g.aggHonest ? _honestValue(jobId) : keccak256(abi.encode("wrong", jobId));
        bytes32 aggSalt = keccak256(abi.encode("agg", jobId));
        vm.prank(aggregator);
        ra.commitAggregate(jobId, keccak256(abi.encode(aggValue, aggSalt)), "bafy-transcript");
        IResultAttestation.Attestation memory a = ra.attestationOf(jobId);
        for (uint256 i = 0; i < Q; ++i) {
            if (g.kinds[i] == NO_COMMIT) continue;
            vm.prank(a.attestors[i]);
            ra.commitAttestation(
                jobId,
                keccak256(abi.encode(_vote(jobId, i), _attSalt(jobId, i), a.attestors[i]))
            );
        }
        vm.warp(uint256(a.commitDeadline) + 1);
        if (aggregatorFirst && g.aggReveals) {
            vm.prank(aggregator);
            ra.revealAggregate(jobId, aggValue, aggSalt);
        }
        for (uint256 i = 0; i < Q; ++i) {
            if (g.kinds[i] == NO_COMMIT || g.kinds[i] == NO_REVEAL) continue;
            vm.prank(a.attestors[i]);
            ra.revealAttestation(jobId, _vote(jobId, i), _attSalt(jobId, i));
        }
        if (!aggregatorFirst && g.aggReveals) {
            vm.prank(aggregator);
            ra.revealAggregate(jobId, aggValue, aggSalt);
        }
        _checkAutoFinalisation(jobId);
    }

    /// @dev After the reveals: a unanimous quorum finalised itself (Attested, job Attested); no other did.
    function _checkAutoFinalisation(uint256 jobId) internal {
        JobGhost storage g = ghost[jobId];
        bool unanimous = g.aggHonest && g.aggReveals;
        for (uint256 i = 0; i < Q; ++i) if (g.kinds[i] != HONEST) unanimous = false;
        IResultAttestation.Status s = ra.statusOf(jobId);
        if (unanimous != (s == IResultAttestation.Status.Attested)) ++ghostUnanimousNotAuto;
        if (s == IResultAttestation.Status.Attested) {
            // Finalised without `finalize`: nobody was slashed, so nobody may have been at fault.
            if (!unanimous) ++ghostUnslashedFaults;
            ++ghostAutoFinalised;
            g.finalised = true;
            if (jm.status(jobId) != IJobMarket.JobStatus.Attested) ++ghostHonestMajorityNotFinal;
        }
    }

    /// @dev What `_finalize` expects and what it saw before the call.
    struct Expectation {
        address[] attestors;
        uint256[3] stakeBefore;
        uint256 aggBefore;
        bool majority;
        bool inTime;
        IJobMarket.JobStatus jsBefore;
    }

    /// @dev Who calls `finalize`: half the time an outsider (a relayer), otherwise a party of the job — its customer,
    ///      the distributor, the aggregator or a drawn attestor (PROTOCOL.md §7.6: never paid the challenger share).
    function _finalizer(uint256 jobId, uint256 seed) internal view returns (address) {
        uint256 k = seed % 8;
        if (k < 4) return relayers[(seed >> 3) % relayers.length];
        if (k == 4) return ghost[jobId].customer;
        if (k == 5) return distributor;
        if (k == 6) return aggregator;
        return ra.attestationOf(jobId).attestors[(seed >> 3) % Q];
    }

    function _isParty(uint256 jobId, address who, address[] memory attestors) internal view returns (bool) {
        if (who == ghost[jobId].customer || who == distributor || who == aggregator) return true;
        for (uint256 i = 0; i < attestors.length; ++i) if (attestors[i] == who) return true;
        return false;
    }

    /// @dev Finalizes an open quorum (after its reveal deadline unless everyone revealed) and checks the outcome:
    ///      an honest majority is final; with a majority every silent or deviating attestor is slashed, without
    ///      one no attestor is (PROTOCOL.md §7.4); a silent aggregator always is; nobody else.
    function _finalize(uint256 jobId, address sender) internal {
        JobGhost storage g = ghost[jobId];
        Expectation memory e = _expect(jobId);
        uint256 customerBefore = token.balanceOf(g.customer);
        uint256 senderBefore = token.balanceOf(sender);
        vm.prank(sender);
        ra.finalize(jobId);
        ++ghostFinalizeCalls;
        g.finalised = true;
        uint256 refund = token.balanceOf(g.customer) - customerBefore;
        ghostRefunded += refund;
        _checkChallengerShare(jobId, sender, token.balanceOf(sender) - senderBefore, refund, e);

        for (uint256 i = 0; i < Q; ++i) {
            uint8 kind = g.kinds[i];
            bool fault = e.majority && kind != HONEST;
            _checkSlash(e.stakeBefore[i], staking.stakeOf(e.attestors[i], INodeStaking.Role.Attestor), fault);
        }
        bool aggFault = !g.aggReveals || (e.majority && !g.aggHonest);
        _checkSlash(e.aggBefore, staking.stakeOf(aggregator, INodeStaking.Role.Aggregator), aggFault);
        if (e.majority && ra.attestationOf(jobId).finalHash != _honestValue(jobId))
            ++ghostHonestMajorityNotFinal;
        if (e.majority && !aggFault && e.jsBefore == IJobMarket.JobStatus.Committed && e.inTime) {
            if (jm.status(jobId) != IJobMarket.JobStatus.Attested) ++ghostHonestMajorityNotFinal;
        }
    }

    /// @dev The challenger share of any slash goes to an outsider who finalizes, never to a party of the job.
    function _checkChallengerShare(
        uint256 jobId,
        address sender,
        uint256 gain,
        uint256 refund,
        Expectation memory e
    ) internal {
        if (sender == ghost[jobId].customer) gain -= refund;
        uint256 slashed = e.aggBefore - staking.stakeOf(aggregator, INodeStaking.Role.Aggregator);
        for (uint256 i = 0; i < Q; ++i)
            slashed += e.stakeBefore[i] - staking.stakeOf(e.attestors[i], INodeStaking.Role.Attestor);
        if (_isParty(jobId, sender, e.attestors)) {
            ++ghostPartyFinalizes;
            if (gain != 0) ++ghostPartyRewarded;
        } else if (slashed != 0 && staking.challengerShareBps() != 0 && gain == 0) {
            ++ghostChallengerUnpaid;
        }
    }

    function _expect(uint256 jobId) internal returns (Expectation memory e) {
        JobGhost storage g = ghost[jobId];
        IResultAttestation.Attestation memory a = ra.attestationOf(jobId);
        bool everyone = g.aggReveals;
        for (uint256 i = 0; i < Q; ++i) if (g.kinds[i] != HONEST && g.kinds[i] != LIAR) everyone = false;
        if (!everyone && block.timestamp <= a.revealDeadline) vm.warp(uint256(a.revealDeadline) + 1);
        uint256 honest = 0;
        for (uint256 i = 0; i < Q; ++i) if (g.kinds[i] == HONEST) ++honest;
        e.majority = honest * 2 > Q; // lies are all distinct: only the honest value can win
        e.attestors = a.attestors;
        for (uint256 i = 0; i < Q; ++i)
            e.stakeBefore[i] = staking.stakeOf(a.attestors[i], INodeStaking.Role.Attestor);
        e.aggBefore = staking.stakeOf(aggregator, INodeStaking.Role.Aggregator);
        e.inTime = block.timestamp <= jm.getJob(jobId).deadline;
        e.jsBefore = jm.status(jobId);
    }

    function _checkSlash(uint256 before, uint256 after_, bool fault) internal {
        uint256 expected = fault ? (before < 100 ether ? before : 100 ether) : 0;
        uint256 slashed = before - after_;
        if (fault && slashed != expected) ++ghostUnslashedFaults;
        if (!fault && slashed != 0) ++ghostWrongSlashes;
    }

    /// @dev The job's true result, from its `resultSeed`: mostly enough participants (8…20), sometimes too few
    ///      (0…7); quality fails one time in six; on success `n` leaves of `unit × (1 + i % 3)`.
    function _resultOf(
        uint256 jobId
    ) internal view returns (ISettlement.ReportInput memory r, uint256 n, uint256 unit) {
        uint256 seed = ghost[jobId].resultSeed;
        uint256 participants = (seed >> 48) % 6 == 0 ? seed % 8 : 8 + (seed % 13);
        bool quality = (seed >> 8) % 6 != 0;
        bool success = quality && participants >= spec.minParticipants;
        r.reportCid = "bafy-report";
        r.reportCommitment = keccak256(abi.encode("report", jobId));
        r.result.aggregateHash = AGG_HASH;
        r.result.participants = uint32(participants);
        r.result.qualityMet = quality;
        if (success) {
            n = 1 + ((seed >> 16) % MAX_LEAVES);
            uint256 weights = 0;
            for (uint256 i = 0; i < n; ++i) weights += 1 + (i % 3);
            unit = bound(seed >> 32, 1, (participants * spec.rewardPerDevice) / weights);
            r.result.payoutRoot = _treeOf(n, unit)[0];
            r.result.payoutTotal = uint96(unit * weights);
            // Now and then the attested total is below the leaves' sum: the pool caps the claims.
            if ((seed >> 24) % 8 == 0 && unit > 1) r.result.payoutTotal -= uint96(unit / 2);
            r.payoutsCid = "bafy-payouts";
        }
    }

    /// @dev A reporter presents the job's attested result (the only one Settlement accepts); first, now and
    ///      then, a forged one (the C1 front-run), which must revert with `SettlementResultMismatch`.
    function _report(uint256 jobId, uint256 seed) internal {
        JobGhost storage g = ghost[jobId];
        (ISettlement.ReportInput memory r, uint256 n, uint256 unit) = _resultOf(jobId);
        address reporter_ = reporters[(seed >> 40) % reporters.length];
        if (seed % 5 == 0) {
            ISettlement.ReportInput memory forged; // a fresh struct: `r` must stay the attested result
            forged.reportCid = r.reportCid;
            forged.reportCommitment = r.reportCommitment;
            forged.payoutsCid = "bafy-payouts";
            forged.result = ISettlement.Result({
                aggregateHash: AGG_HASH,
                payoutRoot: keccak256(abi.encode("forged", jobId)),
                payoutTotal: uint96(r.result.participants) * spec.rewardPerDevice,
                participants: r.result.participants,
                qualityMet: !r.result.qualityMet
            });
            vm.prank(reporter_);
            try settlement.report(jobId, forged) {
                ++ghostWrongPayments;
            } catch (bytes memory err) {
                if (bytes4(err) != ISettlement.SettlementResultMismatch.selector) ++ghostWrongPayments;
            }
        }
        uint256 settlementBefore = token.balanceOf(address(settlement));
        uint256 customerBefore = token.balanceOf(g.customer);
        vm.prank(reporter_);
        settlement.report(jobId, r);
        ++ghostReports;
        g.leaves = n;
        g.unit = unit;
        uint256 paid = token.balanceOf(address(settlement)) - settlementBefore;
        g.toSettlement = paid;
        ghostToSettlement += paid;
        ghostRefunded += token.balanceOf(g.customer) - customerBefore;
        if (paid > g.escrow0 || r.result.payoutTotal > r.result.participants * spec.rewardPerDevice)
            ++ghostPayoutAboveEscrow;
    }

    /// @dev Times out every job whose phase deadline passed and finalizes (slashing) any quorum left open; an
    ///      aggregator that never committed never bound itself and is not slashed.
    function _expireOverdue(uint256 senderSeed) internal {
        for (uint256 k = 0; k < jobs.length; ++k) {
            uint256 jobId = jobs[k];
            IJobMarket.JobStatus s = jm.status(jobId);
            if (isTerminal(s)) continue;
            if (block.timestamp <= jm.getJob(jobId).deadline) continue;
            address customer = ghost[jobId].customer;
            uint256 before = token.balanceOf(customer);
            uint256 aggStake = staking.stakeOf(aggregator, INodeStaking.Role.Aggregator);
            vm.prank(relayers[((senderSeed % relayers.length) + k) % relayers.length]);
            try jm.timeout(jobId) {
                ghostRefunded += token.balanceOf(customer) - before;
                ++ghostExpired;
            } catch {
                ++ghostTimeoutFailures;
                continue;
            }
            if (ra.statusOf(jobId) == IResultAttestation.Status.Committed) {
                _finalize(jobId, relayers[senderSeed % relayers.length]);
            } else if (s == IJobMarket.JobStatus.Assigned) {
                // the aggregator never committed: the expiry slashed nobody
                if (staking.stakeOf(aggregator, INodeStaking.Role.Aggregator) != aggStake)
                    ++ghostWrongSlashes;
            }
        }
    }

    // ------------------------------------------------------------------------------------------- payouts

    /// @dev The first job from `seed` on (cyclically) that has a payout list.
    function _jobWithList(uint256 seed) internal view returns (uint256 jobId, bool found) {
        for (uint256 k = 0; k < jobs.length; ++k) {
            jobId = jobs[((seed % jobs.length) + k) % jobs.length];
            if (ghost[jobId].leaves != 0) return (jobId, true);
        }
        return (0, false);
    }

    function _amountOf(uint256 jobId, uint256 i) internal view returns (uint256) {
        return ghost[jobId].unit * (1 + (i % 3));
    }

    function _tree(uint256 jobId) internal view returns (bytes32[] memory) {
        return _treeOf(ghost[jobId].leaves, ghost[jobId].unit);
    }

    function _treeOf(uint256 n, uint256 unit) internal pure returns (bytes32[] memory) {
        address[] memory accounts = new address[](n);
        uint256[] memory amounts = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) {
            accounts[i] = device(i);
            amounts[i] = unit * (1 + (i % 3));
        }
        return MerkleHelper.buildPayouts(accounts, amounts);
    }

    function _leafOf(
        uint256 jobId,
        uint256 i
    ) internal view returns (address account, uint256 amount, bytes32[] memory proof) {
        account = device(i);
        amount = _amountOf(jobId, i);
        proof = MerkleHelper.payoutProof(_tree(jobId), i, account, amount);
    }

    /// @dev The error a claim must fail with (zero when it must succeed), in Settlement's order of checks.
    ///      A proof taken from the tree with root `proofRoot` proves a leaf under the job's root only when the
    ///      leaf is in the job's list and both roots are the same tree.
    function _expectedClaimError(
        uint256 jobId,
        uint256 index,
        address account,
        uint256 amount,
        bytes32 proofRoot
    ) internal view returns (bytes4) {
        ISettlement.Report memory r = settlement.reportOf(jobId);
        if (r.payoutTotal == 0) return ISettlement.SettlementNoPayouts.selector;
        if (r.swept) return ISettlement.SettlementAlreadySwept.selector;
        if (claimedGhost[jobId][index]) return ISettlement.SettlementAlreadyClaimed.selector;
        JobGhost storage g = ghost[jobId];
        bool inTree = index < g.leaves && account == device(index) && amount == _amountOf(jobId, index);
        if (!inTree || proofRoot != r.payoutRoot) return ISettlement.SettlementInvalidProof.selector;
        if (amount > r.payoutTotal - r.claimed) return ISettlement.SettlementPoolExhausted.selector;
        return bytes4(0);
    }

    // ------------------------------------------------------------------------------------------- stakes

    /// @dev Slashed nodes drop below the minimum stake; top them up so that the next job can run.
    function _topUpStakes() internal {
        _topUp(aggregator, INodeStaking.Role.Aggregator);
        for (uint256 i = 0; i < attestorSet.length; ++i) _topUp(attestorSet[i], INodeStaking.Role.Attestor);
    }

    function _topUp(address op, INodeStaking.Role role) internal {
        uint256 bonded = staking.stakeOf(op, role);
        if (bonded >= MIN_STAKE) return;
        uint256 missing = MIN_STAKE - bonded;
        vm.prank(funder);
        token.transfer(op, missing);
        vm.prank(op);
        staking.stake(role, missing);
    }
}
