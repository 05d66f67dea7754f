// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
import "@openzeppelin/contracts/access/Ownable.sol";
contract Owned is Ownable {
    uint256 public stored;
    constructor(uint256 initial) Ownable(msg.sender) { stored = initial; }
    function set(uint256 v) public onlyOwner { stored = v; }
}
