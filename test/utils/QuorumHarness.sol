// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AttestationQuorum} from "../../contracts/attestation/AttestationQuorum.sol";
import {INodeStaking} from "../../contracts/interfaces/INodeStaking.sol";

/// @notice Holds one quorum round and exposes `AttestationQuorum.select` over the real NodeStaking proxy.
contract QuorumHarness {
    using AttestationQuorum for AttestationQuorum.Round;

    AttestationQuorum.Round internal _round;
    INodeStaking internal immutable _staking;

    constructor(INodeStaking staking_) {
        _staking = staking_;
    }

    function select(bytes32 seed, uint256 q, address exclude) external returns (address[] memory chosen) {
        delete _round;
        chosen = _round.select(
            _staking,
            seed,
            q,
            exclude,
            uint64(block.timestamp + 1),
            uint64(block.timestamp + 2)
        );
    }

    function members() external view returns (address[] memory) {
        return _round.membersOf();
    }
}
