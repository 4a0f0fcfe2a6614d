// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ProtocolFixture} from "../utils/ProtocolFixture.sol";
import {AttestationQuorum} from "../../contracts/attestation/AttestationQuorum.sol";
import {QuorumHarness} from "../utils/QuorumHarness.sol";
import {INodeStaking} from "../../contracts/interfaces/INodeStaking.sol";
import {IAttestationQuorum} from "../../contracts/interfaces/IAttestationQuorum.sol";

contract AttestationQuorumTest is ProtocolFixture {
    INodeStaking.Role internal constant ATT = INodeStaking.Role.Attestor;
    QuorumHarness internal harness;

    function setUp() public override {
        super.setUp();
        harness = new QuorumHarness(staking);
    }

    function _attestor(uint256 i) internal pure returns (address) {
        return address(uint160(0xA77E5700 + i));
    }

    /// @dev Stakes `n` attestors with `stakeOf(i)` each.
    function _stakeAttestors(uint256[] memory stakes) internal {
        for (uint256 i = 0; i < stakes.length; ++i) _stakeAs(_attestor(i), ATT, stakes[i]);
    }

    function _assertValid(address[] memory chosen, uint256 q, address exclude) internal view {
        assertEq(chosen.length, q);
        address[] memory stored = harness.members();
        assertEq(stored, chosen, "round members = returned list");
        for (uint256 i = 0; i < q; ++i) {
            assertTrue(chosen[i] != exclude, "excluded node selected");
            assertTrue(staking.isActive(chosen[i], ATT), "inactive member");
            for (uint256 k = 0; k < i; ++k) assertTrue(chosen[i] != chosen[k], "duplicate member");
        }
    }

    function test_fuzz_select_neverDuplicatesNorExcluded(
        bytes32 seed,
        uint256 nSeed,
        uint256 qSeed,
        uint256 stakeSeed,
        uint256 excludeSeed
    ) public {
        uint256 n = bound(nSeed, 2, 20);
        uint256[] memory stakes = new uint256[](n);
        for (uint256 i = 0; i < n; ++i) {
            // Mostly small stakes, sometimes a whale holding nearly everything (forces the fallback).
            uint256 r = uint256(keccak256(abi.encode(stakeSeed, i)));
            stakes[i] = r % 4 == 0 ? MIN_STAKE_ATTESTOR * 400 : MIN_STAKE_ATTESTOR + (r % 50) * 1 ether;
        }
        _stakeAttestors(stakes);
        // Exclude an active attestor, nobody, or an address that is not an attestor.
        uint256 e = excludeSeed % (n + 2);
        address exclude = e < n ? _attestor(e) : (e == n ? address(0) : alice);
        uint256 available = e < n ? n - 1 : n;
        uint256 q = bound(
            qSeed,
            1,
            available < AttestationQuorum.MAX_SIZE ? available : AttestationQuorum.MAX_SIZE
        );
        _assertValid(harness.select(seed, q, exclude), q, exclude);
    }

    function test_select_whale_fallsBackAndTerminates() public {
        // One attestor holds ~99.6% of the stake: after it is drawn (or excluded), stake-weighted redraws keep
        // hitting it, so the members come from the linear-probe fallback; every other attestor must be chosen.
        uint256[] memory stakes = new uint256[](16);
        for (uint256 i = 0; i < 16; ++i) stakes[i] = MIN_STAKE_ATTESTOR;
        stakes[3] = 20_000_000 ether;
        _stakeAttestors(stakes);
        address[] memory chosen = harness.select(keccak256("whale"), 15, _attestor(3));
        _assertValid(chosen, 15, _attestor(3));
        chosen = harness.select(keccak256("whale-2"), 15, _attestor(0));
        _assertValid(chosen, 15, _attestor(0));
        bool whale;
        for (uint256 i = 0; i < 15; ++i) whale = whale || chosen[i] == _attestor(3);
        assertTrue(whale, "all 15 non-excluded attestors are chosen");
    }

    function test_select_excludedWhale_picksTheOthers() public {
        uint256[] memory stakes = new uint256[](3);
        stakes[0] = MIN_STAKE_ATTESTOR;
        stakes[1] = MIN_STAKE_ATTESTOR * 90;
        stakes[2] = MIN_STAKE_ATTESTOR;
        _stakeAttestors(stakes);
        for (uint256 s = 0; s < 20; ++s) {
            address[] memory chosen = harness.select(keccak256(abi.encode(s)), 2, _attestor(1));
            _assertValid(chosen, 2, _attestor(1));
        }
    }

    function test_select_notEnoughAttestors_reverts() public {
        uint256[] memory stakes = new uint256[](3);
        for (uint256 i = 0; i < 3; ++i) stakes[i] = MIN_STAKE_ATTESTOR;
        _stakeAttestors(stakes);
        vm.expectRevert(abi.encodeWithSelector(IAttestationQuorum.QuorumNotEnoughAttestors.selector, 2, 3));
        harness.select(keccak256("x"), 3, _attestor(0));
        // Excluding someone who is not an attestor leaves all three available.
        _assertValid(harness.select(keccak256("x"), 3, alice), 3, alice);
    }

    function test_select_firstMemberFollowsStake() public {
        // Stakes 1 : 2 : 7, q = 1, 2,000 seeds: expected 200 / 400 / 1,400 (binomial sd 13 / 18 / 20).
        // Tolerance: 4 percentage points (80 selections, >= 4 sd) each.
        uint256[] memory stakes = new uint256[](3);
        stakes[0] = 5_000 ether;
        stakes[1] = 10_000 ether;
        stakes[2] = 35_000 ether;
        _stakeAttestors(stakes);
        uint256[3] memory hits;
        for (uint256 s = 0; s < 2_000; ++s) {
            address a = harness.select(keccak256(abi.encode("seed", s)), 1, address(0))[0];
            for (uint256 i = 0; i < 3; ++i) if (a == _attestor(i)) ++hits[i];
        }
        assertEq(hits[0] + hits[1] + hits[2], 2_000);
        assertApproxEqAbs(hits[0], 200, 80);
        assertApproxEqAbs(hits[1], 400, 80);
        assertApproxEqAbs(hits[2], 1_400, 80);
    }

    function test_gas_select5of100() public {
        uint256[] memory stakes = new uint256[](100);
        for (uint256 i = 0; i < 100; ++i) stakes[i] = MIN_STAKE_ATTESTOR + i * 1 ether;
        _stakeAttestors(stakes);
        harness.select(keccak256("warm the round slots"), 5, address(0));
        vm.cool(address(staking));
        uint256 g = gasleft();
        address[] memory chosen = harness.select(keccak256("job"), 5, _attestor(7));
        emit log_named_uint("gas select 5 of 100 (incl. round writes)", g - gasleft());
        _assertValid(chosen, 5, _attestor(7));
    }
}
