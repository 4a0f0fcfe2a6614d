// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {VRFCoordinatorV2_5Mock} from "@chainlink/contracts/src/v0.8/vrf/mocks/VRFCoordinatorV2_5Mock.sol";

/// @title GrowthPoolVRFCoordinatorMock
/// @notice Chainlink's VRFCoordinatorV2_5Mock as its own compilation root, so tests that also compile the
///         ProtocolFixture can deploy it with `deployCode` instead of importing it (the wasm solc cannot compile
///         both in one job).
contract GrowthPoolVRFCoordinatorMock is VRFCoordinatorV2_5Mock {
    constructor(
        uint96 baseFee,
        uint96 gasPrice,
        int256 weiPerUnitLink
    ) VRFCoordinatorV2_5Mock(baseFee, gasPrice, weiPerUnitLink) {}
}
