/**
 * A Raspberry Pi 4 EEPROM bootloader, simulated — what the real firmware sends and how it reacts
 * (docs/boot-flow.md; ee#N are raspberrypi/rpi-eeprom issues), so the controller can be tested
 * without a board:
 *   - DHCP DISCOVER with option 60 `PXEClient:Arch:00000:UNDI:002001`, 93 = 0, 94 = 1.2.1 and
 *     option 97 = FourCC `RPi4`, board revision, low MAC bytes, serial; it ignores any offer
 *     whose option 43 lacks the "Raspberry Pi Boot" menu entry; REQUEST without option 60 (ee#82);
 *   - TFTP from siaddr with `tsize 0 blksize 1024` on every request (ee#74), a `<serial>/start4.elf`
 *     probe it aborts after the first block ("Early terminate"), config.txt, start4.elf,
 *     fixup4.dat, config.txt again, then cmdline.txt and the kernel/initramfs/dtb that config.txt
 *     names; it ACKs every DATA block twice (bootloaders since 2021-02-16 re-ACK, ee#74).
 * Runs inside a lab namespace as a child process:
 *   node --import tsx/esm test/sim/pi4-bootloader.ts '<json {iface, mac, serial, dtb}>'
 * and prints one JSON line with what it got.
 */
import dgram from 'node:dgram';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { openInterfaceSocket } from '../../src/dhcp/socket.js';
import { encodePacket, decodePacket, BootOp, type DhcpPacket } from '../../src/dhcp/packet.js';
import { Opt, MessageType } from '../../src/dhcp/options.js';
import { decodePacket as decodeTftp, encodePacket as encodeTftp } from '../../src/tftp/packet.js';
import { macToBytes } from '../../src/net/addr.js';

interface Args { iface: string; mac: string; serial: string; dtb: string }
const args = JSON.parse(process.argv[2] ?? '{}') as Args;

const xid = 0x5049_0004;

function piDhcp(type: number, extra: Array<[number, Buffer]>): Buffer {
  const serial = Buffer.from(args.serial, 'hex').reverse(); // little-endian u32, as the FourCC
  const mac = macToBytes(args.mac);
  const uuid = Buffer.concat([Buffer.from([0]), Buffer.from('RPi4', 'latin1'), Buffer.from([0x11, 0x31, 0xc0, 0x00]), Buffer.from(mac.subarray(2)).reverse(), serial]);
  const options = new Map<number, Buffer>([
    [Opt.MessageType, Buffer.from([type])],
    [Opt.ClientArch, Buffer.from([0, 0])],
    [Opt.ClientNdi, Buffer.from([1, 2, 1])],
    [Opt.ClientUuid, uuid],
    [Opt.ParameterRequestList, Buffer.from([1, 3, 43, 60, 66, 67, 128, 129, 130, 131, 132, 133, 134, 135])],
    ...extra,
  ]);
  const chaddr = Buffer.alloc(16);
  mac.copy(chaddr);
  const p: DhcpPacket = {
    op: BootOp.Request, htype: 1, hlen: 6, hops: 0, xid, secs: 0, flags: 0x8000,
    ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0', chaddr, sname: '', file: '', options,
  };
  return encodePacket(p);
}

/** The "Raspberry Pi Boot" menu entry the firmware matches in option 43 (PXE sub-option 9). */
function hasPiMenu(opt43: Buffer | undefined): boolean {
  if (!opt43) return false;
  for (let i = 0; i + 1 < opt43.length && opt43[i] !== 255;) {
    const code = opt43[i] ?? 0;
    const len = opt43[i + 1] ?? 0;
    if (code === 9) return opt43.subarray(i + 5, i + 2 + len).toString('latin1').startsWith('Raspberry Pi Boot');
    i += 2 + len;
  }
  return false;
}

async function dhcpExchange(): Promise<{ yiaddr: string; siaddr: string; option66: string; option43: string }> {
  const sock = await openInterfaceSocket(args.iface, 68);
  try {
    const reply = (want: number) => new Promise<DhcpPacket>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no DHCP reply of type ${want}`)), 10_000);
      sock.on('message', (msg) => {
        try {
          const p = decodePacket(msg);
          if (p.xid !== xid || p.options.get(Opt.MessageType)?.[0] !== want) return;
          if (want === MessageType.Offer && !hasPiMenu(p.options.get(Opt.VendorSpecific))) return; // firmware ignores it
          clearTimeout(timer);
          resolve(p);
        } catch { /* not for us */ }
      });
    });
    const offerP = reply(MessageType.Offer);
    sock.send(piDhcp(MessageType.Discover, [[Opt.VendorClass, Buffer.from('PXEClient:Arch:00000:UNDI:002001')]]), 67, '255.255.255.255');
    const offer = await offerP;
    sock.removeAllListeners('message');
    const ackP = reply(MessageType.Ack);
    sock.send(piDhcp(MessageType.Request, [
      [Opt.RequestedIp, Buffer.from(offer.yiaddr.split('.').map(Number))],
      [Opt.ServerId, offer.options.get(Opt.ServerId) ?? Buffer.alloc(4)],
    ]), 67, '255.255.255.255');
    const ack = await ackP;
    return {
      yiaddr: ack.yiaddr,
      siaddr: offer.siaddr,
      option66: offer.options.get(Opt.TftpServerName)?.toString('latin1') ?? '',
      option43: offer.options.get(Opt.VendorSpecific)?.toString('hex') ?? '',
    };
  } finally {
    sock.close();
  }
}

/** One TFTP read as the firmware does it; `probe` aborts after the first block. */
function tftpGet(server: string, path: string, probe = false): Promise<{ path: string; status: 'ok' | 'not-found' | 'probed'; size: number; tsize: number; sha256: string; data: Buffer }> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    const chunks: Buffer[] = [];
    let tsize = -1;
    let expected = 1;
    const blksize = 1024;
    const timer = setTimeout(() => { sock.close(); reject(new Error(`TFTP timeout on ${path}`)); }, 30_000);
    const done = (status: 'ok' | 'not-found' | 'probed') => {
      clearTimeout(timer);
      // Not close() at once: dgram resolves the address of a send on a later tick, so the final
      // ACK or "Early terminate" just sent would be dropped, which the firmware does not do (the
      // server would then keep the transfer until its timeout, against its per-client cap).
      setImmediate(() => sock.close());
      const data = Buffer.concat(chunks);
      resolve({ path, status, size: data.length, tsize, sha256: createHash('sha256').update(data).digest('hex'), data });
    };
    sock.on('message', (msg, rinfo) => {
      const p = decodeTftp(msg);
      const ack = (block: number) => {
        const b = encodeTftp({ op: 'ack', block });
        sock.send(b, rinfo.port, rinfo.address);
        sock.send(b, rinfo.port, rinfo.address); // the re-ACK quirk
      };
      if (p.op === 'oack') {
        tsize = Number(p.options.get('tsize') ?? -1);
        ack(0);
      } else if (p.op === 'data') {
        if (p.block !== (expected & 0xffff)) return;
        chunks.push(p.data);
        expected++;
        if (probe) {
          sock.send(encodeTftp({ op: 'error', code: 0, message: 'Early terminate' }), rinfo.port, rinfo.address);
          done('probed');
        } else {
          ack(p.block);
          if (p.data.length < blksize) done('ok');
        }
      } else if (p.op === 'error') {
        done('not-found');
      }
    });
    sock.send(encodeTftp({ op: 'rrq', filename: path, mode: 'octet', options: new Map([['tsize', '0'], ['blksize', String(blksize)]]) }), 69, server);
  });
}

const dhcp = await dhcpExchange();
execFileSync('ip', ['addr', 'add', `${dhcp.yiaddr}/24`, 'dev', args.iface]);
const server = dhcp.siaddr;
const p = `${args.serial}/`;
const results = [];
results.push(await tftpGet(server, `${p}start4.elf`, true));
const config = await tftpGet(server, `${p}config.txt`);
results.push(config);
for (const f of ['recover4.elf', 'recovery.elf']) results.push(await tftpGet(server, `${p}${f}`));
for (const f of ['start4.elf', 'fixup4.dat', 'config.txt']) results.push(await tftpGet(server, `${p}${f}`));
const configTxt = config.data.toString('utf8');
const kernel = /^kernel=(\S+)$/m.exec(configTxt)?.[1] ?? 'kernel8.img';
const initramfs = /^initramfs (\S+)/m.exec(configTxt)?.[1];
if (initramfs) results.push(await tftpGet(server, `${p}${initramfs}`));
results.push(await tftpGet(server, `${p}${args.dtb}`));
results.push(await tftpGet(server, `${p}cmdline.txt`));
results.push(await tftpGet(server, `${p}${kernel}`));
const cmdline = results.find((r) => r.path.endsWith('cmdline.txt'))?.data.toString('utf8') ?? '';
process.stdout.write(JSON.stringify({ dhcp, configTxt, cmdline, files: results.map(({ data: _d, ...r }) => r) }) + '\n');
