/** IPv6 router-advertisement responder (RFC 4861) for faster iPXE boots. */
export { RouterAdvertResponder, type RouterAdvertResponderOptions, type RaStats } from './responder.js';
export * from './ndp.js';
