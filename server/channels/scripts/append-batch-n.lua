--[[
  Append many events to many channels, each exactly as append-publish-4.lua appends one
  (offsets, epoch, snapshot, outcome-once, TTL refresh, publish), in one script call: a
  watcher publishing a whole read of a BullMQ event stream pays one round trip and one script
  call for it instead of one per event, and reads and writes each channel's meta hash once.
  Not supported here (append-publish-4.lua has them): the cancel guard, the timeline entry and
  the exclude id; a caller that needs one appends that event on its own.

  KEYS (2 per channel, N channels): KEYS[2c-1] meta hash, KEYS[2c] log stream of channel c
       (both in the channel's hash slot: on a Redis Cluster the caller sends one channel per
       call; on a single Redis one call may hold any number)

  ARGV[1] history size: log entries kept
  ARGV[2] retention in seconds: the keys' TTL, refreshed as append-publish-4.lua does
  ARGV[3] publish command: PUBLISH (single Redis) or SPUBLISH (cluster)
  ARGV[4] the caller's clock in ms (one for the whole call)
  ARGV[5] N, the number of channels
  ARGV[6] N epochs of 8 characters each, one after the other: channel c's is the one to use
    if it has none yet, or has to move to a new one (random base64url: no JSON escaping)
  then per channel c, ARGV[6 + c]: "<epoch> <offset>" of the newest event this caller
    appended on the channel, or "" (ARGV[11] of append-publish-4.lua: Redis lost events the
    caller saw, so a new epoch), a newline, then the envelope JSON up to its epoch,
    pre-encoded: {"channel":…,"epoch":
    (its pub/sub channel is its meta key without ":meta", as in append-publish-4.lua)
  then per event, in the order the events are appended (a channel's events in their order;
    channels may interleave), one value: one byte for the channel's number c (the character
    of code c + 32: "!" for 1, at most 94 channels a call), the event class's first letter
    (l lifecycle, p progress, o outcome, c custom), "r" to clear the snapshot first (a job put
    back in the queue) or "-", then the envelope JSON after its offset, pre-encoded:
    ,"event":…,"data":…,"ts":…}
    (one value per event, not four: every argument costs the caller's client more than
    Redis, and a worker's progress batches are mostly arguments; fixed-width fields, read
    with string.byte, because every string Lua makes and every number it parses or prints
    costs Redis more than the commands here: see "Cost")

  Output: { epoch of channel 1, …, epoch of channel N, offset of event 1, offset of event 2, … }
          with offset 0 for an event dropped because its channel already had an outcome
          (append-publish-4.lua's "outcome-exists"); an event's epoch is its channel's.
  Events: one message per appended event on its channel's pub/sub channel, in order.

  The log is trimmed as append-publish-4.lua trims it: on every 32nd offset.

  Cost: one HMGET and one HSET per channel, the XADD and the PUBLISH per event. In a profile
  of Redis running these calls, about 40% of its time was Lua itself, most of that making
  strings and converting numbers; so each event makes few: its envelope, its offset as a
  string (made once, used for the envelope, the entry id and the meta hash), and its tail.
]]
local size, ttl, publish, now = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local channels = tonumber(ARGV[5])
local epochs = ARGV[6]
local first = 7 + channels
-- By the byte after the channel number: l, p, o, c.
local classes = { [108] = 'lifecycle', [112] = 'progress', [111] = 'outcome', [99] = 'custom' }
local snapshotKeys = { lifecycle = 's:lifecycle', progress = 's:progress', outcome = 's:outcome', custom = 's:custom' }
local RESET = 114 -- 'r'

-- What each channel's meta hash says, read on its first event and kept here until the end:
-- the writes of one call are invisible to anyone until it returns, so one HSET at the end
-- leaves the hash as the per-event HSETs of append-publish-4.lua would have. Its snapshot
-- entries are kept under their hash fields (s['s:progress']), `count` of them written, `last`
-- the newest one's field.
local state = {}

local function newEpoch(s, c)
  s.epoch = string.sub(epochs, 8 * c - 7, 8 * c)
  redis.call('DEL', s.log)
  redis.call('HSET', s.meta, 'epoch', s.epoch)
  s.refresh = true
end

local function open(c)
  local meta, log = KEYS[2 * c - 1], KEYS[2 * c]
  local arg = ARGV[6 + c]
  local newline = string.find(arg, '\n', 1, true)
  local read = redis.call('HMGET', meta, 'epoch', 'offset', 's:outcome', 'x')
  local refreshed = tonumber(read[4])
  local s = {
    meta = meta,
    log = log,
    head = string.sub(arg, newline + 1),
    live = string.sub(meta, 1, -6),
    epoch = read[1],
    top = tonumber(read[2]) or 0,
    outcome = read[3],
    refresh = not refreshed or math.abs(now - refreshed) >= ttl * 10,
    count = 0,
  }
  if not s.epoch then
    -- A log without meta belongs to a lost epoch; its offsets would collide with the new ones.
    newEpoch(s, c)
    s.top, s.outcome = 0, false
  elseif newline > 1 then
    -- "<epoch> <offset>" this caller appended last: ahead of the channel in its epoch means
    -- Redis lost events the caller saw; the log's entries belong to the old epoch.
    local epoch = s.epoch
    if string.find(arg, epoch, 1, true) == 1 and string.byte(arg, #epoch + 1) == 32 then
      local seen = tonumber(string.sub(arg, #epoch + 2, newline - 1))
      if seen and seen > s.top then newEpoch(s, c) end
    end
  end
  state[c] = s
  return s
end

local reply = {}
local n = channels
for i = first, #ARGV do
  local arg = ARGV[i]
  local c = string.byte(arg, 1) - 32
  local s = state[c] or open(c)
  local class = classes[string.byte(arg, 2)]
  local reset = string.byte(arg, 3) == RESET
  local offset = 0
  if reset then
    redis.call('HDEL', s.meta, 's:lifecycle', 's:progress', 's:outcome')
    s['s:lifecycle'], s['s:progress'], s['s:outcome'] = nil, nil, nil
    s.outcome = false
    s.count = s['s:custom'] and 1 or 0
  end
  if reset or class == 'custom' or not s.outcome then
    offset = s.top + 1
    local id = tostring(offset)
    local envelope = s.head .. '"' .. s.epoch .. '","offset":' .. id .. string.sub(arg, 4)
    redis.call('XADD', s.log, id, 'e', envelope)
    if offset % 32 == 0 then redis.call('XTRIM', s.log, 'MAXLEN', '~', size) end
    redis.call(publish, s.live, envelope)
    s.top, s.id = offset, id
    local key = snapshotKeys[class]
    if s[key] == nil then s.count = s.count + 1 end
    s[key] = envelope
    s.last = key
    if class == 'outcome' then s.outcome = true end
  end
  n = n + 1
  reply[n] = offset
end

for c = 1, channels do
  local s = state[c]
  if s and s.count > 0 then
    local meta = s.meta
    if s.count == 1 and not s.refresh then
      -- The common case, one class written: no argument table.
      redis.call('HSET', meta, 'offset', s.id, s.last, s[s.last])
    else
      local fields = { 'offset', s.id }
      for _, key in pairs(snapshotKeys) do
        local envelope = s[key]
        if envelope then
          fields[#fields + 1] = key
          fields[#fields + 1] = envelope
        end
      end
      if s.refresh then
        fields[#fields + 1] = 'x'
        fields[#fields + 1] = now
      end
      redis.call('HSET', meta, unpack(fields))
      if s.refresh then
        redis.call('EXPIRE', meta, ttl)
        redis.call('EXPIRE', s.log, ttl)
      end
    end
  end
  reply[c] = s and s.epoch or ''
end
return reply
