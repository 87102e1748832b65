import test from 'ava';
import { Opcode, TftpDecodeError, TftpErrorCode, decodePacket, encodeAck, encodeData, encodeError, encodeOack, encodePacket, type TftpPacket } from '../../src/tftp/packet.js';

const raw = (s: string): Buffer => Buffer.from(s, 'latin1');

test('an RRQ with options decodes with lower-cased option names', (t) => {
  const p = decodePacket(raw('\0\x01kernel8.img\0OCTET\0TSIZE\x000\0blksize\x001024\0'));
  t.deepEqual(p, { op: 'rrq', filename: 'kernel8.img', mode: 'octet', options: new Map([['tsize', '0'], ['blksize', '1024']]) });
});

test('every packet kind survives an encode/decode round trip', (t) => {
  const packets: TftpPacket[] = [
    { op: 'rrq', filename: 'a/b.txt', mode: 'netascii', options: new Map() },
    { op: 'wrq', filename: 'x', mode: 'octet', options: new Map([['blksize', '1468']]) },
    { op: 'data', block: 65535, data: Buffer.from('hello') },
    { op: 'data', block: 0, data: Buffer.alloc(0) },
    { op: 'ack', block: 42 },
    { op: 'error', code: TftpErrorCode.FileNotFound, message: 'File not found' },
    { op: 'oack', options: new Map([['tsize', '123'], ['windowsize', '8']]) },
  ];
  for (const p of packets) t.deepEqual(decodePacket(encodePacket(p)), p);
});

test('wire layouts match RFC 1350', (t) => {
  t.deepEqual(encodeAck(1), Buffer.from([0, Opcode.ACK, 0, 1]));
  t.deepEqual(encodeData(0x10203, Buffer.from([9])), Buffer.from([0, Opcode.DATA, 0x02, 0x03, 9]), 'block numbers are taken mod 65536');
  t.deepEqual(encodeError(1, 'x'), Buffer.from([0, Opcode.ERROR, 0, 1, 0x78, 0]));
  t.deepEqual(encodeOack(new Map([['tsize', '5']])), raw('\0\x06tsize\x005\0'));
});

test('trailing NUL padding after a request is tolerated', (t) => {
  const p = decodePacket(raw('\0\x01f\0octet\0blksize\x00512\0\0\0\0'));
  t.deepEqual(p.op === 'rrq' ? [...p.options] : undefined, [['blksize', '512']]);
});

test('the first of duplicate options wins', (t) => {
  const p = decodePacket(raw('\0\x01f\0octet\0blksize\x00512\0BLKSIZE\x001024\0'));
  t.is(p.op === 'rrq' ? p.options.get('blksize') : undefined, '512');
});

test('an ERROR without a terminating NUL still decodes', (t) => {
  t.deepEqual(decodePacket(raw('\0\x05\0\x00Early terminate')), { op: 'error', code: 0, message: 'Early terminate' });
});

const malformed: Array<[string, string]> = [
  ['empty datagram', ''],
  ['one byte', '\0'],
  ['unknown opcode 9', '\0\x09abc\0'],
  ['opcode 0', '\0\0'],
  ['request without mode', '\0\x01file\0'],
  ['request with an empty filename', '\0\x01\0octet\0'],
  ['request with an unknown mode', '\0\x01f\0binary\0'],
  ['request not NUL-terminated', '\0\x01f\0octet'],
  ['option without value', '\0\x01f\0octet\0blksize\0'],
  ['short ACK', '\0\x04\0'],
  ['short DATA', '\0\x03\x01'],
  ['short ERROR', '\0\x05\0'],
];
for (const [name, bytes] of malformed) {
  test(`decoding rejects a malformed packet: ${name}`, (t) => {
    t.throws(() => decodePacket(raw(bytes)), { instanceOf: TftpDecodeError });
  });
}

test('decoding rejects DATA larger than the largest blksize', (t) => {
  const big = Buffer.alloc(4 + 65465);
  big.writeUInt16BE(Opcode.DATA, 0);
  t.throws(() => decodePacket(big), { instanceOf: TftpDecodeError });
});
