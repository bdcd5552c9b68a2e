/**
 * Every BIP324 test vector (test/fixtures/bip324, copied from the BIP): the
 * ElligatorSwift decoder, XSwiftECInv for all eight cases, and the whole
 * packet lifecycle (ECDH, key derivation, session id, garbage terminators,
 * packet encryption with rekeying, decryption). A guard fails the file if any
 * row was not checked.
 */
import { createECDH } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { NETWORKS } from '../src/wire/index.js';
import {
  deriveV2Keys,
  ellswiftDecode,
  ellswiftEcdhXonly,
  FSChaCha20,
  FSChaCha20Poly1305,
  HEADER_LENGTH,
  LENGTH_FIELD_LENGTH,
  PacketSender,
  TAG_LENGTH,
  v2Ecdh,
  xswiftecInv,
  type EllSwiftKey,
} from '../src/wire/v2/index.js';

type Row = Record<string, string>;

function readCsv(name: string): Row[] {
  const text = readFileSync(new URL(`./fixtures/bip324/${name}`, import.meta.url), 'utf8');
  const [head, ...lines] = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const cols = head!.split(',');
  return lines.map((line) => {
    const cells = line.split(',');
    expect(cells.length).toBe(cols.length);
    return Object.fromEntries(cols.map((c, i) => [c, cells[i]!]));
  });
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Buffer => Buffer.from(s, 'hex');

const decodeRows = readCsv('ellswift_decode_test_vectors.csv');
const invRows = readCsv('xswiftec_inv_test_vectors.csv');
const packetRows = readCsv('packet_encoding_test_vectors.csv');
const checked = { decode: new Set<number>(), inv: new Set<number>(), packet: new Set<number>() };

afterAll(() => {
  // The guard: a vector file that grew, or a row a loop skipped, fails here.
  expect(checked.decode.size).toBe(decodeRows.length);
  expect(checked.inv.size).toBe(invRows.length);
  expect(checked.packet.size).toBe(packetRows.length);
  expect(decodeRows.length).toBeGreaterThanOrEqual(76);
  expect(invRows.length).toBeGreaterThanOrEqual(32);
  expect(packetRows.length).toBeGreaterThanOrEqual(7);
});

describe('XElligatorSwift decoding (ellswift_decode_test_vectors.csv)', () => {
  it.each(decodeRows.map((r, i) => [i, r] as const))('row %i decodes to its x', (i, row) => {
    expect(hex(ellswiftDecode(unhex(row.ellswift!)))).toBe(row.x);
    checked.decode.add(i);
  });
});

describe('XSwiftECInv (xswiftec_inv_test_vectors.csv)', () => {
  it.each(invRows.map((r, i) => [i, r] as const))('row %i gives each case its t or None', (i, row) => {
    const u = BigInt('0x' + row.u!);
    const x = BigInt('0x' + row.x!);
    for (let c = 0; c < 8; c++) {
      const expected = row[`case${c}_t`]!;
      const t = xswiftecInv(x, u, c);
      if (expected === '') expect(t).toBeNull();
      else {
        expect(t!.toString(16).padStart(64, '0')).toBe(expected);
        // And the forward map takes (u, t) back to x.
        expect(hex(ellswiftDecode(unhex(row.u! + expected)))).toBe(row.x);
      }
    }
    checked.inv.add(i);
  });
});

/** The receiving side of a direction: the BIP's v2_receive_packet over our cipher wrappers. */
function decryptPacket(l: FSChaCha20, p: FSChaCha20Poly1305, packet: Buffer, aad: Uint8Array | null): { header: number; contents: Buffer } {
  const len = Buffer.from(packet.subarray(0, LENGTH_FIELD_LENGTH));
  l.crypt(len, 0);
  const contentsLength = len.readUIntLE(0, LENGTH_FIELD_LENGTH);
  expect(packet.length).toBe(LENGTH_FIELD_LENGTH + HEADER_LENGTH + contentsLength + TAG_LENGTH);
  const d = p.decryptor(aad, HEADER_LENGTH + contentsLength);
  const plain = d.update(packet.subarray(LENGTH_FIELD_LENGTH, packet.length - TAG_LENGTH));
  d.setAuthTag(packet.subarray(packet.length - TAG_LENGTH));
  const rest = d.final();
  const all = Buffer.concat([plain, rest]);
  return { header: all[0]!, contents: all.subarray(HEADER_LENGTH) };
}

describe('packet encoding (packet_encoding_test_vectors.csv)', () => {
  const mainnet = NETWORKS.mainnet;

  it.each(packetRows.map((r, i) => [i, r] as const))('row %i: keys, session id, terminators and ciphertext', (i, row) => {
    const initiating = row.in_initiating === '1';
    const ecdh = createECDH('secp256k1');
    ecdh.setPrivateKey(unhex(row.in_priv_ours!));
    const ours: EllSwiftKey = { ecdh, ellswift: unhex(row.in_ellswift_ours!) };
    const theirs = unhex(row.in_ellswift_theirs!);

    // The x coordinates: of our key (from the private key and from its encoding), of theirs, and the ECDH.
    expect(ecdh.getPublicKey('hex', 'compressed').slice(2)).toBe(row.mid_x_ours);
    expect(hex(ellswiftDecode(ours.ellswift))).toBe(row.mid_x_ours);
    expect(hex(ellswiftDecode(theirs))).toBe(row.mid_x_theirs);
    expect(hex(ellswiftEcdhXonly(ecdh, theirs))).toBe(row.mid_x_shared);

    const secret = v2Ecdh(ours, theirs, initiating);
    expect(hex(secret)).toBe(row.mid_shared_secret);
    const keys = deriveV2Keys(secret, mainnet.magic, initiating);
    expect(hex(initiating ? keys.sendL : keys.recvL)).toBe(row.mid_initiator_l);
    expect(hex(initiating ? keys.sendP : keys.recvP)).toBe(row.mid_initiator_p);
    expect(hex(initiating ? keys.recvL : keys.sendL)).toBe(row.mid_responder_l);
    expect(hex(initiating ? keys.recvP : keys.sendP)).toBe(row.mid_responder_p);
    expect(hex(keys.sendGarbageTerminator)).toBe(row.mid_send_garbage_terminator);
    expect(hex(keys.recvGarbageTerminator)).toBe(row.mid_recv_garbage_terminator);
    expect(hex(keys.sessionId)).toBe(row.out_session_id);

    // The peer derives the mirror image from its side of the exchange.
    const peer = deriveV2Keys(secret, mainnet.magic, !initiating);
    expect(peer.recvL.equals(keys.sendL) && peer.recvP.equals(keys.sendP) && peer.sessionId.equals(keys.sessionId)).toBe(true);

    // Encryption: in_idx packets go first (their contents do not matter), then ours.
    const idx = Number(row.in_idx);
    const aad = unhex(row.in_aad!);
    // The AAD is the garbage, which only the first packet carries: every vector with an AAD is packet 0.
    if (aad.length > 0) expect(idx).toBe(0);
    const sender = new PacketSender(keys.sendL, keys.sendP, aad);
    const recvL = new FSChaCha20(keys.sendL);
    const recvP = new FSChaCha20Poly1305(keys.sendP);
    for (let k = 0; k < idx; k++) {
      const dummy = sender.packet(Buffer.alloc(0));
      expect(decryptPacket(recvL, recvP, dummy, null).contents.length).toBe(0);
    }
    const contents = Buffer.concat(Array.from({ length: Number(row.in_multiply) }, () => unhex(row.in_contents!)));
    const ignore = row.in_ignore === '1';
    const packet = sender.packet(contents, ignore);
    if (row.out_ciphertext !== '') expect(hex(packet)).toBe(row.out_ciphertext);
    if (row.out_ciphertext_endswith !== '') expect(hex(packet.subarray(packet.length - row.out_ciphertext_endswith!.length / 2))).toBe(row.out_ciphertext_endswith);
    expect(row.out_ciphertext !== '' || row.out_ciphertext_endswith !== '').toBe(true);

    // Decryption of the same packet by the other side: header (ignore bit) and contents back.
    const back = decryptPacket(recvL, recvP, packet, aad.length > 0 ? aad : null);
    expect(back.header).toBe(ignore ? 0x80 : 0);
    expect(back.contents.equals(contents)).toBe(true);
    checked.packet.add(i);
  });
});
