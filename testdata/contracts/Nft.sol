// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
import "@openzeppelin/contracts/token/ERC721/ERC721.sol";
import "@openzeppelin/contracts/access/Ownable.sol";
contract Nft is ERC721, Ownable {
    constructor() ERC721("Seed Pictures", "SPIC") Ownable(msg.sender) {}
    function mint(address to, uint256 tokenId) public onlyOwner { _safeMint(to, tokenId); }
}
