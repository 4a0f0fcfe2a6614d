// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {GrowthPoolBase} from "./utils/GrowthPoolBase.sol";
import {GrowthPool} from "../contracts/GrowthPool.sol";
import {MerkleHelper} from "./utils/MerkleHelper.sol";
import {IGrowthPool} from "../contracts/interfaces/IGrowthPool.sol";
import {IGovernedUUPS} from "../contracts/interfaces/IGovernedUUPS.sol";
import {INodeStaking} from "../contracts/interfaces/INodeStaking.sol";
import {IDeviceRegistry} from "../contracts/interfaces/IDeviceRegistry.sol";

/// @notice GrowthPool unit tests. Initialisation: state, events, every revert.
contract GrowthPoolInitTest is GrowthPoolBase {
    using MerkleHelper for bytes32[];

    // ================================================================ initialize

    function test_initialize_setsState() public view {
        assertEq(pool.cap(), POOL_CAP);
        assertEq(token.balanceOf(address(pool)), POOL_CAP);
        assertEq(pool.remaining(), POOL_CAP);
        assertEq(pool.governance(), governance);
        assertEq(pool.token(), address(token));
        assertEq(pool.staking(), address(staking));
        IGrowthPool.Config memory c = pool.config();
        assertEq(c.genesis, genesis);
        assertEq(c.epochLength, EPOCH);
        assertEq(c.halvingEpochs, H);
        assertEq(c.winnersPerEpoch, K);
        assertEq(c.claimWindow, WINDOW);
        IGrowthPool.VrfConfig memory v = pool.vrfConfig();
        assertEq(v.coordinator, address(coordinator));
        assertEq(v.keyHash, KEY_HASH);
        assertEq(v.subscriptionId, subId);
        assertEq(v.requestConfirmations, 3);
        assertEq(v.callbackGasLimit, CALLBACK_GAS);
        IGrowthPool.Era[] memory e = pool.eras();
        assertEq(e.length, 1);
        assertEq(e[0].start, 0);
        assertEq(e[0].halvingEpochs, H);
        assertEq(e[0].e0, _e0());
        assertEq(pool.nextEpoch(), 0);
        assertEq(pool.totalEmitted(), 0);
        assertEq(pool.totalClaimed(), 0);
        assertEq(pool.carry(), 0);
    }

    function test_initialize_emitsEvents() public {
        address predicted = vm.computeCreateAddress(address(this), vm.getNonce(address(this)));
        _fund(predicted, 1_000 ether);
        bytes memory data = _initData(governance, address(token), address(staking), _config(), _vrf());
        vm.expectEmit(true, true, true, true, predicted);
        emit IGovernedUUPS.GovernanceTransferred(address(0), governance);
        vm.expectEmit(true, true, true, true, predicted);
        emit IGrowthPool.GrowthPoolInitialized(
            address(token),
            address(staking),
            1_000 ether,
            125 ether,
            _config()
        );
        vm.expectEmit(true, true, true, true, predicted);
        emit IGrowthPool.VrfConfigUpdated(address(coordinator), KEY_HASH, subId, 3, CALLBACK_GAS);
        address proxy = address(new ERC1967Proxy(implementation, data));
        assertEq(proxy, predicted);
    }

    function test_initialize_revertsOnSecondCall() public {
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        pool.initialize(
            governance,
            IERC20(address(token)),
            INodeStaking(address(staking)),
            IDeviceRegistry(address(registry)),
            _config(),
            _vrf(),
            _challenge()
        );
    }

    function test_initialize_revertsOnImplementation() public {
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        GrowthPool(implementation).initialize(
            governance,
            IERC20(address(token)),
            INodeStaking(address(staking)),
            IDeviceRegistry(address(registry)),
            _config(),
            _vrf(),
            _challenge()
        );
    }

    function test_initialize_revertsOnZeroAddresses() public {
        _expectInitRevert(
            _initData(address(0), address(token), address(staking), _config(), _vrf()),
            abi.encodeWithSelector(IGovernedUUPS.GovernedZeroAddress.selector)
        );
        bytes memory zero = abi.encodeWithSelector(IGrowthPool.GrowthPoolZeroAddress.selector);
        _expectInitRevert(_initData(governance, address(0), address(staking), _config(), _vrf()), zero);
        _expectInitRevert(_initData(governance, address(token), address(0), _config(), _vrf()), zero);
        IGrowthPool.VrfConfig memory v = _vrf();
        v.coordinator = address(0);
        // the proxy must hold tokens to get past the cap check
        address predicted = vm.computeCreateAddress(address(this), vm.getNonce(address(this)));
        _fund(predicted, 1 ether);
        _expectInitRevert(_initData(governance, address(token), address(staking), _config(), v), zero);
    }

    function test_initialize_revertsOnZeroCap() public {
        _expectInitRevert(
            _initData(governance, address(token), address(staking), _config(), _vrf()),
            abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidCap.selector, 0)
        );
    }

    function test_initialize_revertsOnInvalidConfig() public {
        IGrowthPool.Config memory c = _config();
        c.epochLength = 10 minutes - 1;
        _expectInitRevert(
            _initData(governance, address(token), address(staking), c, _vrf()),
            abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidEpochLength.selector, c.epochLength)
        );
        c = _config();
        c.epochLength = 365 days + 1;
        _expectInitRevert(
            _initData(governance, address(token), address(staking), c, _vrf()),
            abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidEpochLength.selector, c.epochLength)
        );
        c = _config();
        c.halvingEpochs = 0;
        _expectInitRevert(
            _initData(governance, address(token), address(staking), c, _vrf()),
            abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidHalvingEpochs.selector, 0)
        );
        c = _config();
        c.winnersPerEpoch = 65;
        _expectInitRevert(
            _initData(governance, address(token), address(staking), c, _vrf()),
            abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidWinnersPerEpoch.selector, 65)
        );
        c = _config();
        c.claimWindow = 1 hours - 1;
        _expectInitRevert(
            _initData(governance, address(token), address(staking), c, _vrf()),
            abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidClaimWindow.selector, c.claimWindow)
        );
        address predicted = vm.computeCreateAddress(address(this), vm.getNonce(address(this)));
        _fund(predicted, 1 ether);
        IGrowthPool.VrfConfig memory v = _vrf();
        v.callbackGasLimit = 79_999;
        _expectInitRevert(
            _initData(governance, address(token), address(staking), _config(), v),
            abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidCallbackGasLimit.selector, 79_999)
        );
    }

    function test_initialize_revertsOnInvalidChallengeConfig() public {
        IGrowthPool.ChallengeConfig memory ch = _challenge();
        ch.challengeWindow = uint64(UNBONDING_DELAY); // must be shorter than the unbonding delay
        _fundNext();
        _expectInitRevert(
            _initData(governance, address(token), address(staking), _config(), _vrf(), ch),
            abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidChallengeWindow.selector, UNBONDING_DELAY)
        );
        ch = _challenge();
        ch.challengeWindow = 10 minutes - 1;
        _fundNext();
        _expectInitRevert(
            _initData(governance, address(token), address(staking), _config(), _vrf(), ch),
            abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidChallengeWindow.selector, 10 minutes - 1)
        );
        ch = _challenge();
        ch.slashAmount = 0;
        _fundNext();
        _expectInitRevert(
            _initData(governance, address(token), address(staking), _config(), _vrf(), ch),
            abi.encodeWithSelector(IGrowthPool.GrowthPoolInvalidSlashAmount.selector, 0)
        );
        // zero registry
        bytes memory data = abi.encodeCall(
            GrowthPool.initialize,
            (
                governance,
                IERC20(address(token)),
                INodeStaking(address(staking)),
                IDeviceRegistry(address(0)),
                _config(),
                _vrf(),
                _challenge()
            )
        );
        _fundNext();
        _expectInitRevert(data, abi.encodeWithSelector(IGrowthPool.GrowthPoolZeroAddress.selector));
        assertEq(pool.registry(), address(registry));
        assertEq(pool.challengeConfig().challengeWindow, CHALLENGE_WINDOW);
        assertEq(pool.challengeConfig().slashAmount, SLASH);
    }

    // ================================================================ helpers

    /// @dev Funds the address of the next proxy this test creates (the pool's cap check comes first).
    function _fundNext() internal {
        _fund(vm.computeCreateAddress(address(this), vm.getNonce(address(this))), 1 ether);
    }

    function _expectInitRevert(bytes memory data, bytes memory err) internal {
        vm.expectRevert(err);
        new ERC1967Proxy(implementation, data);
    }
}
