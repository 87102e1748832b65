/**
 * The TFTP side of the wire simulator: one lock-step read (RFC 1350) with the options a PXE ROM
 * and iPXE send (RFC 2348 blksize, RFC 2349 tsize), from a socket bound to the address the node
 * was ACKed — the controller maps a TFTP request to its machine by that source address
 * (src/controller/boot-glue.ts tftpNode). The whole file is read and its length checked against
 * the tsize the server announced.
 */
import dgram from 'node:dgram';
import { decodePacket, encodeAck, encodePacket, type TftpPacket } from '../tftp/packet.js';

export interface TftpFetch {
  bytes: number;
  /** RRQs sent (more than 1: the first went unanswered or was refused). */
  requests: number;
}

export interface TftpRetry {
  /** Wait before resending the last packet (RRQ or ACK). */
  timeoutMs: number;
  /** Resends of one packet before the transfer is given up. */
  tries: number;
}

const BLKSIZE = 1468; // what iPXE and the Pi firmware ask for: fits a 1500-byte MTU

/** Reads `file` from `server`:69 with a socket bound to `from`; throws with the reason on failure. */
export async function tftpFetch(from: string, server: string, file: string, retry: TftpRetry): Promise<TftpFetch> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ address: from, port: 0 }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  try {
    return await transfer(socket, server, file, retry);
  } finally {
    socket.close();
  }
}

function transfer(socket: dgram.Socket, server: string, file: string, retry: TftpRetry): Promise<TftpFetch> {
  return new Promise((resolve, reject) => {
    const rrq = encodePacket({ op: 'rrq', filename: file, mode: 'octet', options: new Map([['blksize', String(BLKSIZE)], ['tsize', '0']]) });
    let tid: number | undefined; // the server's transfer port (RFC 1350 §4)
    let blksize = 512;
    let tsize: number | undefined;
    let expected = 1;
    let bytes = 0;
    let requests = 0;
    let last: { data: Buffer; port: number } = { data: rrq, port: 69 };
    let tries = 0;
    let timer: NodeJS.Timeout | undefined;
    const send = (data: Buffer, port: number): void => {
      last = { data, port };
      tries = 0;
      socket.send(data, port, server);
      arm();
    };
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (++tries > retry.tries) return finish(new Error(`${file}: no answer from ${server} after ${retry.tries} resends (block ${expected})`));
        if (last.data === rrq) requests++;
        socket.send(last.data, last.port, server);
        arm();
      }, retry.timeoutMs);
    };
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      socket.removeAllListeners('message');
      if (err) reject(err);
      else resolve({ bytes, requests });
    };
    socket.on('message', (msg, rinfo) => {
      if (rinfo.address !== server || (tid !== undefined && rinfo.port !== tid)) return;
      let p: TftpPacket;
      try {
        p = decodePacket(msg);
      } catch {
        return;
      }
      tid ??= rinfo.port;
      switch (p.op) {
        case 'oack':
          blksize = Number(p.options.get('blksize') ?? 512);
          tsize = p.options.has('tsize') ? Number(p.options.get('tsize')) : undefined;
          return send(encodeAck(0), tid);
        case 'data':
          if (p.block !== (expected & 0xffff)) {
            // The block before: our ACK was lost and the server resent it; ACK it again.
            if (p.block === ((expected - 1) & 0xffff)) socket.send(encodeAck(p.block), tid, server);
            return;
          }
          bytes += p.data.length;
          expected++;
          if (p.data.length < blksize) {
            socket.send(encodeAck(p.block), tid, server);
            if (tsize !== undefined && tsize !== bytes) return finish(new Error(`${file}: got ${bytes} bytes, the server announced tsize ${tsize}`));
            return finish();
          }
          return send(encodeAck(p.block), tid);
        case 'error':
          return finish(new Error(`${file}: TFTP error ${p.code} from ${server}: ${p.message}`));
        default:
          return;
      }
    });
    requests++;
    send(rrq, 69);
  });
}
