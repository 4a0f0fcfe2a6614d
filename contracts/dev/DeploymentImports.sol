// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

// Compiles the third-party contracts that script/deploy.ts deploys from Hardhat artifacts:
// OpenZeppelin's ERC1967Proxy and TimelockController, and Chainlink's VRF v2.5 coordinator mock (dev chains only).
// solhint-disable no-unused-import
import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {VRFCoordinatorV2_5Mock} from "@chainlink/contracts/src/v0.8/vrf/mocks/VRFCoordinatorV2_5Mock.sol";
