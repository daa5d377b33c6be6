// The channel system calls as Zircon's source does them (lib/syscalls/channel.cc,
// object/channel_dispatcher.cc): each looks up its handle with the rights it needs, builds
// or consumes MessagePackets in PMM pages, takes the channel's shared mutex, and wakes
// whoever waits through the scheduler. Each returns a zx_status_t; the blocking ones leave a
// continuation the thread runs when the scheduler resumes it (zircon.ts).

import type { Core } from '../../hw/core.ts';
import type { Thread } from '../thread.ts';
import { createPacket, freePacket, payloadPieces } from './heap.ts';
import {
  CALL_ARGS,
  CALL_ARGS_BYTES,
  CH,
  LOC,
  MAX_MSG_BYTES,
  MAX_MSG_HANDLES,
  MP,
  MW,
  OBJ_TYPE_CHANNEL,
  RIGHT,
  TCB_LOCALS,
  ZX,
} from './objects.ts';
import {
  eraseWaiter,
  lockChannel,
  popMessage,
  run,
  unlockChannel,
  waiterOf,
  writeSelf,
} from './signals.ts';
import { copyFromUser, copyToUser, putUser32 } from './usercopy.ts';
import type { Zircon } from './zircon.ts';
import { locked } from '../priced.ts';

/** A packet of the user's bytes: MessagePacket::Create(user_in_ptr, size, 0 handles). */
function packetFromUser(
  z: Zircon,
  core: Core,
  t: Thread,
  bytes: number,
  n: number,
): { packet: number } | { status: number } {
  if (n > MAX_MSG_BYTES) return { status: ZX.ERR_OUT_OF_RANGE };
  const packet = createPacket(core, z.pool, z.paths, n, 0);
  if (packet === null) return { status: ZX.ERR_NO_MEMORY };
  const data = copyFromUser(z.k, z.paths, core, t, bytes, n);
  if (data === null) {
    freePacket(core, z.pool, packet);
    return { status: ZX.ERR_INVALID_ARGS };
  }
  let off = 0;
  for (const p of payloadPieces(core, z.paths, packet, n)) {
    core.writeBytes(p.at, data.subarray(off, off + p.len));
    off += p.len;
  }
  return { packet };
}

/** CopyDataTo: the packet's payload out to user memory. */
function packetToUser(z: Zircon, core: Core, t: Thread, packet: number, to: number): boolean {
  const n = core.load32(packet + MP.dataSize);
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of payloadPieces(core, z.paths, packet, n)) {
    out.set(core.readBytes(p.at, p.len), off);
    off += p.len;
  }
  return copyToUser(z.k, z.paths, core, t, to, out);
}

/** zx_channel_write(handle, options, bytes, num_bytes, handles, num_handles). */
export function channelWrite(z: Zircon, core: Core, t: Thread, a: number[]): number {
  const [h, options, bytes, n, , nh] = a as [number, number, number, number, number, number];
  if (options !== 0) return ZX.ERR_INVALID_ARGS;
  if (nh > MAX_MSG_HANDLES) return ZX.ERR_OUT_OF_RANGE;
  if (nh > 0) return ZX.ERR_NOT_SUPPORTED;
  const lk = z.lookup(core, t, h, RIGHT.WRITE, OBJ_TYPE_CHANNEL);
  if (!lk.ok) return lk.status;
  const ch = lk.dispatcher;
  const made = packetFromUser(z, core, t, bytes, n);
  let status: number = ZX.OK;
  if ('status' in made) status = made.status;
  else {
    // ChannelDispatcher::Write: lock, owner check, peer check, peer_->WriteSelf.
    const holder = lockChannel(z, core, ch);
    const peer = core.load64(ch + CH.peer);
    if (core.load64(ch + CH.owner) !== z.koidOf(core, t)) status = ZX.ERR_BAD_HANDLE;
    else if (peer === 0) status = ZX.ERR_PEER_CLOSED;
    else writeSelf(z, core, peer, made.packet);
    unlockChannel(z, core, holder);
    if (status !== ZX.OK) freePacket(core, z.pool, made.packet);
  }
  z.release(core, ch);
  return status;
}

/** zx_channel_read(handle, options, bytes, handles, num_bytes, num_handles, actual_bytes,
 *  actual_handles). */
export function channelRead(z: Zircon, core: Core, t: Thread, a: number[]): number {
  const [h, options, bytes, , max, , actualBytes, actualHandles] = a as number[] as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (options !== 0) return ZX.ERR_INVALID_ARGS;
  const lk = z.lookup(core, t, h, RIGHT.READ, OBJ_TYPE_CHANNEL);
  if (!lk.ok) return lk.status;
  const ch = lk.dispatcher;
  const holder = lockChannel(z, core, ch);
  run(core, z.paths.readPop);
  let status: number = ZX.OK;
  let packet = 0;
  let size = 0;
  if (core.load64(ch + CH.owner) !== z.koidOf(core, t)) status = ZX.ERR_BAD_HANDLE;
  else {
    packet = core.load64(ch + CH.msgHead);
    if (packet === 0)
      status = core.load64(ch + CH.peer) !== 0 ? ZX.ERR_SHOULD_WAIT : ZX.ERR_PEER_CLOSED;
    else {
      size = core.load32(packet + MP.dataSize);
      if (size > max) status = ZX.ERR_BUFFER_TOO_SMALL;
      else popMessage(z, core, ch, packet);
    }
  }
  unlockChannel(z, core, holder);
  if (status === ZX.OK || status === ZX.ERR_BUFFER_TOO_SMALL) {
    run(core, z.paths.readOut);
    if (actualBytes !== 0 && !putUser32(z.k, z.paths, core, t, actualBytes, size))
      status = ZX.ERR_INVALID_ARGS;
    if (actualHandles !== 0 && !putUser32(z.k, z.paths, core, t, actualHandles, 0))
      status = ZX.ERR_INVALID_ARGS;
  }
  if (packet !== 0 && status !== ZX.ERR_BUFFER_TOO_SMALL && status !== ZX.ERR_BAD_HANDLE) {
    // Popped: copied out (a bad buffer loses the message, as in Zircon), then recycled.
    if (status === ZX.OK && !packetToUser(z, core, t, packet, bytes)) status = ZX.ERR_INVALID_ARGS;
    freePacket(core, z.pool, packet);
  }
  z.release(core, ch);
  return status;
}

/** zx_channel_call(handle, options, deadline, args, actual_bytes, actual_handles): write
 *  with a kernel txid, then wait for the reply carrying it. Returns a status, or null when
 *  the thread blocked (the continuation callResume finishes it). */
export function channelCall(z: Zircon, core: Core, t: Thread, a: number[]): number | null {
  const [h, options, , argsAt, actualBytes, actualHandles] = a as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const P = z.paths;
  run(core, P.callArgs);
  if (options !== 0) return ZX.ERR_INVALID_ARGS;
  const args = copyFromUser(z.k, P, core, t, argsAt, CALL_ARGS_BYTES);
  if (args === null) return ZX.ERR_INVALID_ARGS;
  const v = new DataView(args.buffer);
  const wrBytes = Number(v.getBigUint64(CALL_ARGS.wrBytes, true));
  const rdBytes = Number(v.getBigUint64(CALL_ARGS.rdBytes, true));
  const wrNum = v.getUint32(CALL_ARGS.wrNumBytes, true);
  const wrHandles = v.getUint32(CALL_ARGS.wrNumHandles, true);
  const rdNum = v.getUint32(CALL_ARGS.rdNumBytes, true);
  if (wrNum < 4) return ZX.ERR_INVALID_ARGS;
  if (wrHandles > 0) return ZX.ERR_NOT_SUPPORTED;
  const lk = z.lookup(core, t, h, RIGHT.READ | RIGHT.WRITE, OBJ_TYPE_CHANNEL);
  if (!lk.ok) return lk.status;
  const ch = lk.dispatcher;
  const made = packetFromUser(z, core, t, wrBytes, wrNum);
  if ('status' in made) {
    z.release(core, ch);
    return made.status;
  }
  const packet = made.packet;
  // ChannelDispatcher::Call: MessageWaiter::BeginWait on the thread's own waiter.
  run(core, P.callBegin);
  const w = waiterOf(t.tcb);
  if (core.load64(w + MW.channel) !== 0) {
    freePacket(core, z.pool, packet);
    z.release(core, ch);
    return ZX.ERR_BAD_STATE;
  }
  core.store64(w + MW.channel, ch);
  // The waiter's RefPtr to the channel (fbl::WrapRefPtr(this)): AddRef, a LOCK XADD.
  core.store64(ch + CH.refcount, core.load64(ch + CH.refcount) + 1);
  locked(core);
  core.store32(w + MW.status, ZX.ERR_TIMED_OUT >>> 0);
  core.store32(w + MW.eventSignaled, 0);
  const holder = lockChannel(z, core, ch);
  const peer = core.load64(ch + CH.peer);
  let status: number = ZX.OK;
  if (core.load64(ch + CH.owner) !== z.koidOf(core, t)) status = ZX.ERR_BAD_HANDLE;
  else if (peer === 0) status = ZX.ERR_PEER_CLOSED;
  if (status !== ZX.OK) {
    core.store64(w + MW.channel, 0);
    unlockChannel(z, core, holder);
    freePacket(core, z.pool, packet);
    z.release(core, ch);
    return status;
  }
  // A txid: ++txid_ | 0x80000000, not one a waiter already uses.
  let txid = 0;
  for (let again = true; again;) {
    const next = (core.load32(ch + CH.txid) + 1) >>> 0;
    core.store32(ch + CH.txid, next);
    txid = (next | 0x8000_0000) >>> 0;
    again = false;
    for (let o = core.load64(ch + CH.waitersHead); o !== 0; o = core.load64(o + MW.next)) {
      run(core, P.waiterScan);
      if (core.load32(o + MW.txid) === txid) again = true;
    }
  }
  core.store32(w + MW.txid, txid);
  core.store32(packet + core.load32(packet + MP.payloadOffset), txid);
  // waiters_.push_back(waiter), then peer_->WriteSelf(msg).
  const tail = core.load64(ch + CH.waitersTail);
  core.store64(w + MW.next, 0);
  core.store64(w + MW.prev, tail);
  if (tail === 0) core.store64(ch + CH.waitersHead, w);
  else core.store64(tail + MW.next, w);
  core.store64(ch + CH.waitersTail, w);
  writeSelf(z, core, peer, packet);
  unlockChannel(z, core, holder);
  // The call's locals survive the wait (on the kernel stack in Zircon).
  const L = t.tcb + TCB_LOCALS;
  core.store64(L + LOC.rdBytes, rdBytes);
  core.store32(L + LOC.rdNumBytes, rdNum);
  core.store64(L + LOC.actualBytes, actualBytes);
  core.store64(L + LOC.actualHandles, actualHandles);
  core.store64(L + LOC.dispatcher, ch);
  return null;
}

/** ResumeInterruptedCall's tail and channel_call_epilogue, run by the caller once the
 *  scheduler resumes it: EndWait under the lock, the reply copied out, the packet freed. */
export function callResume(z: Zircon, core: Core, t: Thread): number {
  const P = z.paths;
  const w = waiterOf(t.tcb);
  const L = t.tcb + TCB_LOCALS;
  const ch = core.load64(L + LOC.dispatcher);
  const holder = lockChannel(z, core, ch);
  run(core, P.callEnd);
  const msg = core.load64(w + MW.msg);
  let status = core.load32(w + MW.status) | 0;
  core.store64(w + MW.msg, 0);
  core.store64(w + MW.channel, 0);
  // EndWait drops the waiter's reference (channel_.reset(): Release, a LOCK XADD).
  core.store64(ch + CH.refcount, core.load64(ch + CH.refcount) - 1);
  locked(core);
  if (status === ZX.ERR_TIMED_OUT) eraseWaiter(core, ch, w);
  unlockChannel(z, core, holder);
  if (status === ZX.OK && msg !== 0) {
    run(core, P.readOut);
    const size = core.load32(msg + MP.dataSize);
    const actualBytes = core.load64(L + LOC.actualBytes);
    const actualHandles = core.load64(L + LOC.actualHandles);
    if (size > core.load32(L + LOC.rdNumBytes)) status = ZX.ERR_BUFFER_TOO_SMALL;
    else if (!packetToUser(z, core, t, msg, core.load64(L + LOC.rdBytes)))
      status = ZX.ERR_INVALID_ARGS;
    if (actualBytes !== 0 && !putUser32(z.k, P, core, t, actualBytes, size))
      status = ZX.ERR_INVALID_ARGS;
    if (actualHandles !== 0 && !putUser32(z.k, P, core, t, actualHandles, 0))
      status = ZX.ERR_INVALID_ARGS;
  }
  if (msg !== 0) freePacket(core, z.pool, msg);
  z.release(core, ch);
  return status;
}
