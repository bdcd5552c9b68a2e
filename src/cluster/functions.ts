/**
 * The Redis function library every cluster process loads once at connect
 * (`FUNCTION LOAD REPLACE`; the library name carries a version so two
 * bitspread versions never replace each other's code). Each function is one
 * atomic step of the shared crawl; see docs/CLUSTER.md for the key layout.
 *
 * Key names: the generation function builds the crawl's key prefix itself
 * (it must read the generation first), so the library needs a standalone
 * Redis (or one shard), not Redis Cluster. Every other function gets its
 * keys declared in KEYS.
 *
 * Time comes from the server (`TIME`), never from the processes, so leases
 * do not depend on the machines' clocks agreeing.
 */

export const LIBRARY_NAME = 'bitspread_v1';

/** Field of a work entry: the addresses, space separated. */
export const WORK_ADDRS_FIELD = 'a';
/** Field of a work entry: deliveries whose holder died before this entry was made (a split batch carries them). */
export const WORK_DIED_FIELD = 'd';
/** Field of a record entry: one NDJSON line without its newline. */
export const RECORD_FIELD = 'r';
/** The consumer group every process reads the work stream through. */
export const GROUP = 'crawlers';

export const LIBRARY = `#!lua name=${LIBRARY_NAME}

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function split(s)
  local out = {}
  for w in string.gmatch(s, '%S+') do out[#out + 1] = w end
  return out
end

local function field(fields, name)
  for i = 1, #fields, 2 do
    if fields[i] == name then return fields[i + 1] end
  end
  return nil
end

local function require_crawl(meta)
  if redis.call('EXISTS', meta) == 0 then
    return redis.error_reply('BSLOST the crawl state is gone (Redis restarted without persistence, or it was flushed)')
  end
  return nil
end

-- Done when nothing is queued and nothing is pending: every entry is deleted
-- when acknowledged, so the stream's length is exactly queued + pending.
local function check_done(work, meta, known)
  if redis.call('XLEN', work) == 0 and redis.call('SCARD', known) > 0 then
    redis.call('HSETNX', meta, 'done', now_ms())
    return 1
  end
  return tonumber(redis.call('HEXISTS', meta, 'done'))
end

-- KEYS[1] = the generation counter. ARGV: base prefix, start (1: may start a
-- new generation when the current one is done or absent; 0: join only), max peers.
-- Returns {generation, max peers, done}.
redis.register_function('bs_join', function(keys, args)
  local base, start, max = args[1], args[2] == '1', args[3]
  local gen = redis.call('GET', keys[1])
  local function meta_of(g) return base .. ':' .. g .. ':meta' end
  if gen then
    local done = redis.call('HEXISTS', meta_of(gen), 'done') == 1
    local exists = redis.call('EXISTS', meta_of(gen)) == 1
    if exists and not (done and start) then
      return { tonumber(gen), tonumber(redis.call('HGET', meta_of(gen), 'max')), done and 1 or 0 }
    end
    if not exists and not start then
      return { tonumber(gen), 0, 0 }
    end
  elseif not start then
    return { 0, 0, 0 }
  end
  gen = redis.call('INCR', keys[1])
  local meta = meta_of(gen)
  local work = base .. ':' .. gen .. ':work'
  redis.call('HSET', meta, 'max', max, 'created', now_ms(), 'held', 0, 'peak', 0)
  redis.call('XGROUP', 'CREATE', work, '${GROUP}', '$', 'MKSTREAM')
  return { tonumber(gen), tonumber(max), 0 }
end)

-- KEYS: work, known, meta. ARGV: batch size, then addresses (dialable, canonical text).
-- Adds the new ones to the work stream in entries of <= batch size. Returns {new, done}.
redis.register_function('bs_learn', function(keys, args)
  local work, known, meta = keys[1], keys[2], keys[3]
  local lost = require_crawl(meta)
  if lost then return lost end
  local batch = tonumber(args[1])
  local fresh = {}
  for i = 2, #args do
    if redis.call('SADD', known, args[i]) == 1 then fresh[#fresh + 1] = args[i] end
  end
  for i = 1, #fresh, batch do
    redis.call('XADD', work, '*', '${WORK_ADDRS_FIELD}', table.concat(fresh, ' ', i, math.min(i + batch - 1, #fresh)), '${WORK_DIED_FIELD}', 0)
  end
  return { #fresh, check_done(work, meta, known) }
end)

-- KEYS: work, final, meta, known. ARGV: consumer, min idle ms (the lease),
-- entries wanted, max deliveries.
-- First takes over entries idle longer than the lease (their holder died or
-- hung): a batch is split into one entry per unfinished address (which of
-- them killed the holder is unknown), a single address delivered more than
-- max deliveries times is returned as poisoned. Then reads new entries.
-- Returns {done, stream length, leases {id, delivery, "addrs"}..., poisoned {id, addr}...}.
redis.register_function('bs_lease', function(keys, args)
  local work, final, meta, known = keys[1], keys[2], keys[3], keys[4]
  local lost = require_crawl(meta)
  if lost then return lost end
  local consumer, idle, want, maxd = args[1], tonumber(args[2]), tonumber(args[3]), tonumber(args[4])
  local leases, poisoned = {}, {}
  local function unfinished(list)
    local out = {}
    for _, a in ipairs(list) do
      if redis.call('SISMEMBER', final, a) == 0 then out[#out + 1] = a end
    end
    return out
  end
  local function drop(id)
    redis.call('XACK', work, '${GROUP}', id)
    redis.call('XDEL', work, id)
  end
  local claimed = redis.call('XAUTOCLAIM', work, '${GROUP}', consumer, idle, '0-0', 'COUNT', want)
  for _, e in ipairs(claimed[2]) do
    local id, fields = e[1], e[2]
    local p = redis.call('XPENDING', work, '${GROUP}', id, id, 1)[1]
    local deliveries = p and tonumber(p[4]) or 2
    local died = tonumber(field(fields, '${WORK_DIED_FIELD}') or '0') + deliveries - 1
    local addrs = unfinished(split(field(fields, '${WORK_ADDRS_FIELD}') or ''))
    if #addrs == 0 then
      drop(id)
    elseif #addrs > 1 then
      for _, a in ipairs(addrs) do
        redis.call('XADD', work, '*', '${WORK_ADDRS_FIELD}', a, '${WORK_DIED_FIELD}', died)
      end
      drop(id)
    elseif died >= maxd then
      poisoned[#poisoned + 1] = { id, addrs[1], died }
    else
      leases[#leases + 1] = { id, died + 1, addrs[1] }
    end
  end
  if #leases + #poisoned < want then
    local read = redis.call('XREADGROUP', 'GROUP', '${GROUP}', consumer, 'COUNT', want - #leases - #poisoned, 'STREAMS', work, '>')
    if read then
      for _, e in ipairs(read[1][2]) do
        local id, fields = e[1], e[2]
        local addrs = unfinished(split(field(fields, '${WORK_ADDRS_FIELD}') or ''))
        if #addrs == 0 then
          drop(id)
        else
          leases[#leases + 1] = { id, tonumber(field(fields, '${WORK_DIED_FIELD}') or '0') + 1, table.concat(addrs, ' ') }
        end
      end
    end
  end
  return { check_done(work, meta, known), redis.call('XLEN', work), leases, poisoned }
end)

-- KEYS: work, meta, known. ARGV: entry ids. Acknowledges and deletes them.
-- Returns {acked, done}.
redis.register_function('bs_ack', function(keys, args)
  local work, meta, known = keys[1], keys[2], keys[3]
  local lost = require_crawl(meta)
  if lost then return lost end
  local n = 0
  for i = 1, #args do
    n = n + redis.call('XACK', work, '${GROUP}', args[i])
    redis.call('XDEL', work, args[i])
  end
  return { n, check_done(work, meta, known) }
end)

-- KEYS: work, meta, known. ARGV: batch size, entry count n, n ids, then the
-- addresses to put back (a process that stops hands its unfinished work back).
redis.register_function('bs_giveback', function(keys, args)
  local work, meta, known = keys[1], keys[2], keys[3]
  local lost = require_crawl(meta)
  if lost then return lost end
  local batch, n = tonumber(args[1]), tonumber(args[2])
  for i = 3 + n, #args, batch do
    redis.call('XADD', work, '*', '${WORK_ADDRS_FIELD}', table.concat(args, ' ', i, math.min(i + batch - 1, #args)), '${WORK_DIED_FIELD}', 0)
  end
  for i = 3, 2 + n do
    redis.call('XACK', work, '${GROUP}', args[i])
    redis.call('XDEL', work, args[i])
  end
  return check_done(work, meta, known)
end)

-- KEYS: final, records, meta. ARGV: address, NDJSON line, address, line...
-- The first final record of an address wins; later ones are dropped.
-- Returns how many were new.
redis.register_function('bs_record', function(keys, args)
  local final, records, meta = keys[1], keys[2], keys[3]
  local lost = require_crawl(meta)
  if lost then return lost end
  local n = 0
  for i = 1, #args, 2 do
    if redis.call('SADD', final, args[i]) == 1 then
      redis.call('XADD', records, '*', '${RECORD_FIELD}', args[i + 1])
      n = n + 1
    end
  end
  return n
end)

-- KEYS: work, meta. ARGV: consumer, entry ids.
-- Keeps this consumer's leases alive (resets their idle time) and returns the
-- ids it no longer holds (taken over by another process after a stall).
redis.register_function('bs_touch', function(keys, args)
  local work, meta = keys[1], keys[2]
  local lost = require_crawl(meta)
  if lost then return lost end
  local consumer, gone = args[1], {}
  for i = 2, #args do
    local p = redis.call('XPENDING', work, '${GROUP}', args[i], args[i], 1)[1]
    if p and p[2] == consumer then
      redis.call('XCLAIM', work, '${GROUP}', consumer, 0, args[i], 'JUSTID')
    else
      gone[#gone + 1] = args[i]
    end
  end
  return gone
end)

-- The global peer cap. KEYS: meta, slots (consumer -> held), live (consumer ->
-- lease expiry, server ms), demand (consumer -> wanted).
-- ARGV: consumer, op ('acquire' | 'release' | 'beat' | 'leave'), n, lease ms, demand.
-- Every call first returns the slots of consumers whose lease expired (a dead
-- process's slots come back), then renews the caller's lease.
-- A consumer is granted at most its fair share: ceil(max / consumers that want slots).
-- Returns {granted (negative for a release), held, total held, fair share, max}.
redis.register_function('bs_cap', function(keys, args)
  local meta, slots, live, demand = keys[1], keys[2], keys[3], keys[4]
  local lost = require_crawl(meta)
  if lost then return lost end
  local consumer, op, n, lease, want = args[1], args[2], tonumber(args[3]), tonumber(args[4]), tonumber(args[5])
  local now = now_ms()
  local total = tonumber(redis.call('HGET', meta, 'held') or '0')
  for _, c in ipairs(redis.call('ZRANGEBYSCORE', live, '-inf', now)) do
    total = total - tonumber(redis.call('HGET', slots, c) or '0')
    redis.call('HDEL', slots, c)
    redis.call('HDEL', demand, c)
    redis.call('ZREM', live, c)
  end
  local max = tonumber(redis.call('HGET', meta, 'max'))
  local held = tonumber(redis.call('HGET', slots, consumer) or '0')
  local granted = 0
  if op == 'leave' then
    granted = -held
  elseif op == 'release' then
    granted = -math.min(n, held)
  end
  if op == 'leave' then
    redis.call('HDEL', slots, consumer)
    redis.call('HDEL', demand, consumer)
    redis.call('ZREM', live, consumer)
  else
    redis.call('ZADD', live, now + lease, consumer)
    redis.call('HSET', demand, consumer, want)
  end
  local wanting = 0
  for _, v in ipairs(redis.call('HVALS', demand)) do
    if tonumber(v) > 0 then wanting = wanting + 1 end
  end
  local fair = math.ceil(max / math.max(1, wanting))
  if op == 'acquire' then
    granted = math.max(0, math.min(n, max - total, fair - held))
  end
  held = held + granted
  total = total + granted
  if op ~= 'leave' then redis.call('HSET', slots, consumer, held) end
  redis.call('HSET', meta, 'held', total)
  if total > tonumber(redis.call('HGET', meta, 'peak') or '0') then redis.call('HSET', meta, 'peak', total) end
  return { granted, held, total, fair, max }
end)

-- KEYS: meta, work, known, final. Returns {done, stream length, known, final, held, peak, max}.
redis.register_function('bs_status', function(keys, args)
  local meta, work, known, final = keys[1], keys[2], keys[3], keys[4]
  local lost = require_crawl(meta)
  if lost then return lost end
  return { check_done(work, meta, known), redis.call('XLEN', work), redis.call('SCARD', known), redis.call('SCARD', final),
    tonumber(redis.call('HGET', meta, 'held') or '0'), tonumber(redis.call('HGET', meta, 'peak') or '0'),
    tonumber(redis.call('HGET', meta, 'max') or '0') }
end)
`;
