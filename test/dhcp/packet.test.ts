import test from 'ava';
import fc from 'fast-check';
import { decodePacket, encodePacket, DhcpDecodeError, MIN_PACKET, packetMac, type DhcpPacket } from '../../src/dhcp/packet.js';
import { Opt, MessageType, encodeIp, encodeU8, encodeString } from '../../src/dhcp/options.js';

/** Hex with spaces/newlines for readability. */
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const zeros = (n: number): string => '00'.repeat(n);

// A Pi 3B ROM's DISCOVER (docs/boot-flow.md): broadcast flag, option 53=1, 60 PXEClient..., 93=0.
const VENDOR = Buffer.from('PXEClient:Arch:00000:UNDI:002001').toString('hex');
const PI_DISCOVER = hex(
  '01 01 06 00  12345678  0000 8000' +
    zeros(16) + // ciaddr yiaddr siaddr giaddr
    'b827eb123456' + zeros(10) + // chaddr
    zeros(64) + zeros(128) + // sname, file
    '63825363' +
    '35 01 01' + `3c 20 ${VENDOR}` + '5d 02 0000' + 'ff',
);
const GOLDEN = Buffer.concat([PI_DISCOVER, Buffer.alloc(MIN_PACKET - PI_DISCOVER.length)]);

test('decodes a Raspberry Pi 3B DISCOVER into its fields', (t) => {
  const p = decodePacket(GOLDEN);
  t.is(p.op, 1);
  t.is(p.xid, 0x12345678);
  t.is(p.flags, 0x8000);
  t.is(p.ciaddr, '0.0.0.0');
  t.is(packetMac(p), 'b8:27:eb:12:34:56');
  t.deepEqual(p.options.get(Opt.MessageType), Buffer.from([MessageType.Discover]));
  t.is(p.options.get(Opt.VendorClass)?.toString(), 'PXEClient:Arch:00000:UNDI:002001');
  t.deepEqual(p.options.get(Opt.ClientArch), Buffer.from([0, 0]));
  t.is(p.options.size, 3);
});

test('re-encoding a decoded packet gives the same bytes (golden)', (t) => {
  t.deepEqual(encodePacket(decodePacket(GOLDEN)), GOLDEN);
});

test('encodes an OFFER with fields at their RFC 2131 offsets, message type first, End, 300 bytes', (t) => {
  const offer: DhcpPacket = {
    op: 2, htype: 1, hlen: 6, hops: 0, xid: 0xdeadbeef, secs: 0, flags: 0,
    ciaddr: '0.0.0.0', yiaddr: '198.18.0.100', siaddr: '198.18.0.1', giaddr: '0.0.0.0',
    chaddr: hex('525400123456' + zeros(10)), sname: '', file: 'undionly.kpxe',
    options: new Map([[Opt.ServerId, encodeIp('198.18.0.1')], [Opt.MessageType, encodeU8(MessageType.Offer)]]),
  };
  const b = encodePacket(offer);
  t.is(b.length, MIN_PACKET);
  t.is(b.toString('hex', 0, 8), '02010600deadbeef');
  t.is(b.toString('hex', 16, 24), 'c6120064c6120001'); // yiaddr, siaddr
  t.is(b.toString('latin1', 108, 108 + 13), 'undionly.kpxe');
  t.is(b[108 + 13], 0);
  t.is(b.toString('hex', 236, 250), '63825363' + '350102' + '3604c6120001' + 'ff');
  t.is(b.subarray(250).every((x) => x === 0), true);
});

test('repeated options are concatenated on decode (RFC 3396)', (t) => {
  const b = Buffer.from(GOLDEN);
  // Replace the End at the first option slot after 93 with two pieces of option 12.
  const at = 240 + 3 + 34 + 4;
  hex('0c 03 616263 0c 02 6465 ff').copy(b, at);
  t.is(decodePacket(b).options.get(Opt.Hostname)?.toString(), 'abcde');
});

test('options longer than 255 bytes are split on encode and joined on decode', (t) => {
  const long = Buffer.alloc(600, 7);
  const p = decodePacket(GOLDEN);
  p.options.set(Opt.VendorSpecific, long);
  const b = encodePacket(p);
  t.deepEqual(decodePacket(b).options.get(Opt.VendorSpecific), long);
  // 255 + 255 + 90 bytes: three option 43 instances.
  let count = 0;
  for (let i = 240; i < b.length && b[i] !== 0xff; i += 2 + (b[i + 1] ?? 0)) if (b[i] === Opt.VendorSpecific) count++;
  t.is(count, 3);
});

test('option overload (52) reads options from file and sname and blanks those names', (t) => {
  const b = Buffer.from(GOLDEN);
  hex('34 01 03 ff').copy(b, 240 + 3 + 34 + 4); // overload = both
  hex('43 02 0102 ff').copy(b, 108); // file: option 67
  hex('42 03 616263 ff').copy(b, 44); // sname: option 66
  const p = decodePacket(b);
  t.deepEqual(p.options.get(Opt.BootfileName), Buffer.from([1, 2]));
  t.is(p.options.get(Opt.TftpServerName)?.toString(), 'abc');
  t.is(p.file, '');
  t.is(p.sname, '');
});

const malformed: Array<[string, () => Buffer, RegExp]> = [
  ['a packet shorter than the header', () => GOLDEN.subarray(0, 239), /truncated/],
  ['an empty datagram', () => Buffer.alloc(0), /truncated/],
  ['a bad magic cookie', () => { const b = Buffer.from(GOLDEN); b[236] = 0; return b; }, /magic cookie/],
  ['hlen 17', () => { const b = Buffer.from(GOLDEN); b[2] = 17; return b; }, /hlen 17/],
  ['op 3', () => { const b = Buffer.from(GOLDEN); b[0] = 3; return b; }, /bad op/],
  ['an option running past the end', () => Buffer.concat([GOLDEN.subarray(0, 240), hex('3c 20 5058')]), /runs past the end/],
  ['an option without a length byte', () => Buffer.concat([GOLDEN.subarray(0, 240), hex('35')]), /no length byte/],
  ['a bad overload value', () => { const b = Buffer.from(GOLDEN); hex('34 01 07 ff').copy(b, 281); return b; }, /overload/],
  ['an overloaded file field with a runaway option', () => { const b = Buffer.from(GOLDEN); hex('34 01 01 ff').copy(b, 281); hex('43 ff').copy(b, 108); return b; }, /in file runs past/],
];
for (const [what, make, reason] of malformed) {
  test(`decodePacket throws DhcpDecodeError for ${what}`, (t) => {
    const err = t.throws(() => decodePacket(make()), { instanceOf: DhcpDecodeError });
    t.regex(err?.reason ?? '', reason);
  });
}

test('decodePacket never throws anything but DhcpDecodeError on random or truncated input', (t) => {
  fc.assert(
    fc.property(fc.oneof(fc.uint8Array({ maxLength: 600 }), fc.nat(GOLDEN.length).map((n) => GOLDEN.subarray(0, n)),
      fc.tuple(fc.nat(GOLDEN.length - 1), fc.uint8Array({ minLength: 1, maxLength: 40 })).map(([at, junk]) => {
        const b = Buffer.from(GOLDEN);
        Buffer.from(junk).copy(b, at);
        return b;
      })), (bytes) => {
      try {
        decodePacket(Buffer.from(bytes));
      } catch (err) {
        if (!(err instanceof DhcpDecodeError)) throw err;
      }
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

const ip = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
const text = (max: number) => fc.string({ maxLength: max }).map((s) => s.replace(/[^\x20-\x7e]/g, 'x'));
const packet: fc.Arbitrary<DhcpPacket> = fc.record({
  op: fc.constantFrom(1, 2), htype: fc.nat(255), hlen: fc.nat(16), hops: fc.nat(255), xid: fc.nat(0xffffffff),
  secs: fc.nat(0xffff), flags: fc.nat(0xffff), ciaddr: ip, yiaddr: ip, siaddr: ip, giaddr: ip,
  chaddr: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((a) => Buffer.from(a)),
  sname: text(63), file: text(127),
  options: fc.uniqueArray(fc.tuple(fc.integer({ min: 1, max: 254 }).filter((c) => c !== Opt.Overload),
    fc.uint8Array({ minLength: 1, maxLength: 400 }).map((a) => Buffer.from(a))), { selector: ([c]) => c, maxLength: 8 })
    .map((entries) => new Map(entries)),
});

test('decodePacket(encodePacket(p)) gives p back for any packet', (t) => {
  fc.assert(fc.property(packet, (p) => {
    const back = decodePacket(encodePacket(p));
    if (JSON.stringify({ ...back, options: [...back.options].sort() }) !== JSON.stringify({ ...p, options: [...p.options].sort() })) {
      throw new Error(`round trip changed ${JSON.stringify(p)}`);
    }
  }), { numRuns: 500 });
  t.pass();
});

test('encodePacket rejects a boot file name that does not fit the 128-byte field', (t) => {
  const p = decodePacket(GOLDEN);
  p.file = 'x'.repeat(128);
  t.throws(() => encodePacket(p), { instanceOf: RangeError, message: /file/ });
  p.file = 'ok';
  p.options.set(Opt.Hostname, encodeString('n'));
  t.notThrows(() => encodePacket(p));
});
