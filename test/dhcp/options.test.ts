import test from 'ava';
import {
  Opt, IpxeSubOpt, encodeSubOptions, decodeUserClass, decodeClientArch, decodeIps, encodeIps, decodeString, encodeU16, decodeU16,
  encodeU32, decodeU32, messageTypeName, MessageType,
} from '../../src/dhcp/options.js';

test('encodeSubOptions builds iPXE option 175 with no-pxedhcp (176) = 1 and an End', (t) => {
  t.deepEqual(encodeSubOptions([[IpxeSubOpt.NoPxeDhcp, Buffer.from([1])]]), Buffer.from([176, 1, 1, 255]));
});

test('encodeSubOptions refuses a sub-option over 255 bytes', (t) => {
  t.throws(() => encodeSubOptions([[9, Buffer.alloc(256)]]), { instanceOf: RangeError });
});

test('user class: RFC 3004 list and iPXE bare string both decode', (t) => {
  t.deepEqual(decodeUserClass(Buffer.from('\x04iPXE\x03foo', 'latin1')), ['iPXE', 'foo']);
  t.deepEqual(decodeUserClass(Buffer.from('iPXE')), ['iPXE']);
  t.is(decodeUserClass(undefined), undefined);
});

test('client arch reads the first u16 of option 93 (RFC 4578)', (t) => {
  t.is(decodeClientArch(Buffer.from([0, 7])), 7);
  t.is(decodeClientArch(Buffer.from([0, 11, 0, 7])), 11);
  t.is(decodeClientArch(Buffer.from([7])), undefined);
});

test('ip lists, integers and strings round trip; wrong lengths decode to undefined', (t) => {
  t.deepEqual(decodeIps(encodeIps(['198.18.0.1', '198.18.0.2'])), ['198.18.0.1', '198.18.0.2']);
  t.is(decodeIps(Buffer.alloc(5)), undefined);
  t.is(decodeU16(encodeU16(4011)), 4011);
  t.is(decodeU32(encodeU32(0xfffffffe)), 0xfffffffe);
  t.is(decodeU32(Buffer.alloc(3)), undefined);
  t.is(decodeString(Buffer.from('pxelinux.0\0\0')), 'pxelinux.0');
});

test('message type names match RFC 2132; option 93 is RFC 4578\'s and 175 iPXE\'s', (t) => {
  t.is(messageTypeName(MessageType.Inform), 'inform');
  t.is(messageTypeName(9), undefined);
  t.is(Opt.ClientArch, 93);
  t.is(Opt.IpxeEncap, 175);
});
