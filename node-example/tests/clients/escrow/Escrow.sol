// SPDX-License-Identifier: MIT
// Written for pvm-node's viem test (node-example/tests/clients/viem.mjs), which is the only
// thing that deploys it: a contract that none of the node's other tests have seen.
pragma solidity ^0.8.24;

import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

/// @title Escrow
/// @notice A buyer locks ether for a seller; the arbiter named at deployment either releases
/// it to the seller or refunds the buyer. Each deal is settled once.
contract Escrow is ReentrancyGuard {
    enum Status {
        None,
        Open,
        Released,
        Refunded
    }

    struct Deal {
        address buyer;
        address payable seller;
        uint256 amount;
        Status status;
    }

    /// @notice Who settles deals; fixed by the constructor.
    address public immutable arbiter;
    /// @notice Deals opened so far; ids run from 1.
    uint256 public dealCount;
    /// @notice Ether held for open deals.
    uint256 public held;

    mapping(uint256 => Deal) private _deals;

    event Opened(uint256 indexed id, address indexed buyer, address indexed seller, uint256 amount);
    event Released(uint256 indexed id, address indexed seller, uint256 amount);
    event Refunded(uint256 indexed id, address indexed buyer, uint256 amount);

    error ZeroArbiter();
    error NotArbiter(address caller);
    error NothingDeposited();
    error DealNotOpen(uint256 id, Status status);

    constructor(address arbiter_) {
        if (arbiter_ == address(0)) revert ZeroArbiter();
        arbiter = arbiter_;
    }

    modifier onlyArbiter() {
        if (msg.sender != arbiter) revert NotArbiter(msg.sender);
        _;
    }

    /// @notice Locks the ether sent for `seller`; returns the new deal's id.
    function open(address payable seller) external payable returns (uint256 id) {
        if (msg.value == 0) revert NothingDeposited();
        id = ++dealCount;
        _deals[id] = Deal(msg.sender, seller, msg.value, Status.Open);
        held += msg.value;
        emit Opened(id, msg.sender, seller, msg.value);
    }

    /// @notice A deal as stored (all zero for an unknown id).
    function deal(uint256 id) external view returns (Deal memory) {
        return _deals[id];
    }

    /// @notice Pays an open deal's ether to its seller.
    function release(uint256 id) external onlyArbiter nonReentrant {
        Deal storage settled = _settle(id, Status.Released);
        emit Released(id, settled.seller, settled.amount);
        Address.sendValue(settled.seller, settled.amount);
    }

    /// @notice Returns an open deal's ether to its buyer.
    function refund(uint256 id) external onlyArbiter nonReentrant {
        Deal storage settled = _settle(id, Status.Refunded);
        emit Refunded(id, settled.buyer, settled.amount);
        Address.sendValue(payable(settled.buyer), settled.amount);
    }

    function _settle(uint256 id, Status outcome) private returns (Deal storage settled) {
        settled = _deals[id];
        if (settled.status != Status.Open) revert DealNotOpen(id, settled.status);
        settled.status = outcome;
        held -= settled.amount;
    }
}
