/**
 * The sending half of an established v2 session: messages in, packets out,
 * each packet built in one buffer (length ‖ header ‖ message type ‖ payload ‖
 * tag) with the payload written in place, as v1's encodeMessage does.
 */
import { WireError } from '../../errors.js';
import { COMMAND_SIZE } from '../constants.js';
import { guardEncode, writePayload } from '../payloads.js';
import { PayloadWriter } from '../writer.js';
import type { Message } from '../types.js';
import { FSChaCha20, FSChaCha20Poly1305 } from './ciphers.js';
import { HEADER_LENGTH, IGNORE_BIT, LENGTH_FIELD_LENGTH, PACKET_OVERHEAD, TAG_LENGTH } from './constants.js';
import { messageTypeLength, writeMessageType } from './message-ids.js';

/** Room in front of a payload for the longest prefix: length, header, 0x00 + 12-byte command. */
const PREFIX_ROOM = LENGTH_FIELD_LENGTH + HEADER_LENGTH + 1 + COMMAND_SIZE;
const MAX_CONTENTS_FIELD = 0xffffff;
const TAG_ROOM = new Uint8Array(TAG_LENGTH);

function checkCommand(command: string): void {
  if (command.length > COMMAND_SIZE) throw new WireError('ERR_BAD_COMMAND', `command '${command}' is longer than ${COMMAND_SIZE} characters`);
  for (let i = 0; i < command.length; i++) {
    const c = command.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) throw new WireError('ERR_BAD_COMMAND', `command '${command}' has a non-printable character`);
  }
}

export class PacketSender {
  private readonly lengthCipher: FSChaCha20;
  private readonly packetCipher: FSChaCha20Poly1305;
  /** The garbage we sent: the AAD of our first packet, then null. */
  private aad: Uint8Array | null;

  constructor(keyL: Uint8Array, keyP: Uint8Array, garbage: Uint8Array) {
    this.lengthCipher = new FSChaCha20(keyL);
    this.packetCipher = new FSChaCha20Poly1305(keyP);
    this.aad = garbage;
  }

  /** Packets sent so far (decoys and the version packet included). */
  get packets(): number {
    return this.packetCipher.count;
  }

  /**
   * Encrypts the packet at `buf[o ..]` in place: its contents (`contentsLength`
   * bytes) are already at o + 4, and TAG_LENGTH bytes of room follow them.
   */
  private seal(buf: Buffer, o: number, contentsLength: number, ignore: boolean): Buffer {
    if (contentsLength > MAX_CONTENTS_FIELD) throw new RangeError(`v2 contents of ${contentsLength} bytes do not fit the 24-bit length`);
    buf.writeUIntLE(contentsLength, o, LENGTH_FIELD_LENGTH);
    buf[o + LENGTH_FIELD_LENGTH] = ignore ? IGNORE_BIT : 0;
    const plainStart = o + LENGTH_FIELD_LENGTH;
    const plainEnd = plainStart + HEADER_LENGTH + contentsLength;
    const cipher = this.packetCipher.encryptor(this.aad, plainEnd - plainStart);
    this.aad = null;
    cipher.update(buf.subarray(plainStart, plainEnd)).copy(buf, plainStart);
    cipher.final();
    cipher.getAuthTag().copy(buf, plainEnd);
    this.lengthCipher.crypt(buf, o);
    return buf.subarray(o, plainEnd + TAG_LENGTH);
  }

  /** A packet carrying `contents` as they are (a decoy when `ignore`; the version packet). */
  packet(contents: Uint8Array, ignore = false): Buffer {
    const buf = Buffer.allocUnsafe(PACKET_OVERHEAD + contents.length);
    buf.set(contents, LENGTH_FIELD_LENGTH + HEADER_LENGTH);
    return this.seal(buf, 0, contents.length, ignore);
  }

  /** A message as one packet: the short id when BIP324 defines one, else 0x00 ‖ command. */
  message(msg: Message): Buffer {
    const command = msg.command === 'unknown' ? msg.name : msg.command;
    checkCommand(command);
    return guardEncode(command, () => {
      const w = new PayloadWriter(PREFIX_ROOM + 64, PREFIX_ROOM);
      writePayload(w, msg);
      return this.finishWriter(w, command);
    });
  }

  /** An already-encoded payload under `command` (a simulator's or a test's raw frame). */
  frame(command: string, payload: Uint8Array): Buffer {
    checkCommand(command);
    const w = new PayloadWriter(PREFIX_ROOM + payload.length + TAG_LENGTH, PREFIX_ROOM);
    w.bytes(payload);
    return this.finishWriter(w, command);
  }

  private finishWriter(w: PayloadWriter, command: string): Buffer {
    const payloadEnd = w.pos;
    w.bytes(TAG_ROOM);
    const typeLength = messageTypeLength(command);
    const o = PREFIX_ROOM - typeLength - HEADER_LENGTH - LENGTH_FIELD_LENGTH;
    writeMessageType(w.buf, PREFIX_ROOM - typeLength, command);
    return this.seal(w.buf, o, payloadEnd - (PREFIX_ROOM - typeLength), false);
  }

  /**
   * Only a length field, encrypted in sequence, announcing `contentsLength`:
   * what a hostile peer sends to make us wait for (or refuse) an oversized
   * packet. For simulators and tests; it spends a packet's worth of length
   * keystream but no packet nonce, so nothing valid can follow it.
   */
  bogusLength(contentsLength: number): Buffer {
    const buf = Buffer.allocUnsafe(LENGTH_FIELD_LENGTH);
    buf.writeUIntLE(contentsLength, 0, LENGTH_FIELD_LENGTH);
    this.lengthCipher.crypt(buf, 0);
    return buf;
  }
}
