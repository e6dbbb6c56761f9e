--[[
  Append one event to a channel's log, update the channel's state snapshot and publish it,
  atomically, so a subscriber reading the log and one listening live never see a gap.

  KEYS[1] meta hash   ({channel}:meta)  epoch, offset, s:<class> = newest event of that class
  KEYS[2] log stream  ({channel}:log)   entries "<offset>-0" with field e = envelope JSON

  ARGV[1]  channel name
  ARGV[2]  event name
  ARGV[3]  event class: lifecycle | progress | outcome | custom
  ARGV[4]  data, already JSON-encoded
  ARGV[5]  ts, publish time in ms (digits)
  ARGV[6]  history size: log entries kept
  ARGV[7]  retention in seconds, refreshed on every append
  ARGV[8]  pub/sub channel (same hash tag as the keys)
  ARGV[9]  epoch to use if the channel has none yet (random, from the caller)
  ARGV[10] "reset" to clear the snapshot first (a job put back in the queue), else ""
  ARGV[11] publish command: PUBLISH (single Redis) or SPUBLISH (cluster)
  ARGV[12] a connection id not to deliver to live (Pusher's socket_id), or ""; not stored
  ARGV[13] "<epoch> <offset>" of the newest event this caller appended on the channel, or "":
           if the channel is now behind it in that epoch, Redis lost its newest events (a
           failover to a replica that had not received them, a restart that lost the last
           writes), and the channel moves to a new epoch (ARGV[9]) before this event, so that
           no offset a subscriber may have seen is given to another event

  Output: { offset, epoch, envelope }, or { 0, epoch, reason } when the event was dropped:
    reason "outcome-exists"  the channel already has an outcome: outcomes happen once, and
                             lifecycle/progress after an outcome are stale
  Events: one message on ARGV[8] with the envelope JSON (plus "exclude" when ARGV[12] is set).
]]
local meta, log = KEYS[1], KEYS[2]
local class = ARGV[3]

local epoch = redis.call('HGET', meta, 'epoch')
if not epoch then
  epoch = ARGV[9]
  -- A log without meta belongs to a lost epoch; its offsets would collide with the new ones.
  redis.call('DEL', log)
  redis.call('HSET', meta, 'epoch', epoch, 'offset', 0)
end

if ARGV[13] ~= '' then
  local seenEpoch, seenOffset = string.match(ARGV[13], '^(%S+) (%d+)$')
  if seenEpoch == epoch and tonumber(seenOffset) > tonumber(redis.call('HGET', meta, 'offset')) then
    epoch = ARGV[9]
    -- The log's entries belong to the old epoch; a reader in the new one must not get them.
    redis.call('DEL', log)
    redis.call('HSET', meta, 'epoch', epoch)
  end
end

if ARGV[10] == 'reset' then
  redis.call('HDEL', meta, 's:lifecycle', 's:progress', 's:outcome')
elseif class ~= 'custom' and redis.call('HEXISTS', meta, 's:outcome') == 1 then
  return { 0, epoch, 'outcome-exists' }
end

local offset = redis.call('HINCRBY', meta, 'offset', 1)
local envelope = '{"channel":' .. cjson.encode(ARGV[1]) ..
  ',"epoch":' .. cjson.encode(epoch) ..
  ',"offset":' .. offset ..
  ',"event":' .. cjson.encode(ARGV[2]) ..
  ',"data":' .. ARGV[4] ..
  ',"ts":' .. ARGV[5] .. '}'

redis.call('HSET', meta, 's:' .. class, envelope)
redis.call('XADD', log, 'MAXLEN', ARGV[6], offset .. '-0', 'e', envelope)
local ttl = tonumber(ARGV[7])
redis.call('EXPIRE', meta, ttl)
redis.call('EXPIRE', log, ttl)
local published = envelope
if ARGV[12] ~= '' then
  published = string.sub(envelope, 1, -2) .. ',"exclude":' .. cjson.encode(ARGV[12]) .. '}'
end
redis.call(ARGV[11], ARGV[8], published)
return { offset, epoch, envelope }
