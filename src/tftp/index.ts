/** Read-only TFTP server library: see docs/tftp.md. */
export { TftpServer, createTftpServer } from './server.js';
export { fileSystemHandler, type FileSystemHandlerOptions } from './fs-handler.js';
export { TftpCache, defaultTftpCache, DEFAULT_CACHE_BYTES } from './cache.js';
export { DEFAULT_MAX_TRANSFERS, DEFAULT_MAX_TRANSFERS_PER_CLIENT, DEFAULT_MAX_TIMEOUT_SECONDS } from './limits.js';
export { bufferFile, type TftpFile } from './file.js';
export { TftpAccessDenied, type TftpClient, type TftpEvent, type TftpFailure, type TftpHandler, type TftpServerOptions, type TftpStats } from './types.js';
export { Opcode, TftpErrorCode, TftpDecodeError, decodePacket, encodePacket, type TftpPacket } from './packet.js';
