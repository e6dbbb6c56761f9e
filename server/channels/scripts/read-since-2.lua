--[[
  Read what a subscriber missed: every event after its position when the log still holds them
  all, else the channel's state snapshot. Creates the channel's epoch if it has none, so an
  empty channel still gives a position that later appends continue.

  KEYS[1] meta hash   ({channel}:meta)
  KEYS[2] log stream  ({channel}:log)

  ARGV[1] epoch to use if the channel has none yet (random, from the caller)
  ARGV[2] retention in seconds (applied only when the epoch is created here)
  ARGV[3] the subscriber's epoch, or "" for none
  ARGV[4] the subscriber's offset (ignored without an epoch)
  ARGV[5] the most events to replay; more missed than this counts as not recoverable
  ARGV[6] "rebase" when the reader is trusted to have seen the position (a gateway catching up
          after a Redis reconnect): a position ahead of the channel then means Redis lost the
          channel's newest events (a failover), and the channel moves to a new epoch (ARGV[1])
          so their offsets are not given to other events; else ""

  Output: { epoch, offset, status, envelope... }
    status  1  recovered: the envelopes are every event after the position, in order
    status  0  not recovered: the envelopes are the snapshot (newest per class, any order)
    status -1  the position is in the future of this epoch (a client bug or forgery), without "rebase"
]]
local meta, log = KEYS[1], KEYS[2]

local epoch = redis.call('HGET', meta, 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', log)
  redis.call('HSET', meta, 'epoch', epoch, 'offset', 0)
  redis.call('EXPIRE', meta, tonumber(ARGV[2]))
end
local top = tonumber(redis.call('HGET', meta, 'offset'))

if ARGV[3] == epoch then
  local since = tonumber(ARGV[4])
  if since > top and ARGV[6] ~= 'rebase' then return { epoch, top, -1 } end
  if since > top then
    -- Redis lost the newest events this reader saw: a new epoch, answered with the snapshot.
    epoch = ARGV[1]
    redis.call('HSET', meta, 'epoch', epoch)
  elseif since == top then
    return { epoch, top, 1 }
  elseif top - since <= tonumber(ARGV[5]) then
    local entries = redis.call('XRANGE', log, (since + 1) .. '-0', '+')
    local first = entries[1]
    -- The log is trimmed from the front: it is complete after `since` iff it starts right there.
    if first and first[1] == (since + 1) .. '-0' then
      local out = { epoch, top, 1 }
      for i = 1, #entries do out[#out + 1] = entries[i][2][2] end
      return out
    end
  end
end

local out = { epoch, top, 0 }
local snapshot = redis.call('HMGET', meta, 's:lifecycle', 's:progress', 's:outcome', 's:custom')
for i = 1, 4 do
  if snapshot[i] then out[#out + 1] = snapshot[i] end
end
return out
