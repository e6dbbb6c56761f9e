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
    channels may interleave), one value: the channel's number c (1-based), a space, the event
    class's first letter (l lifecycle, p progress, o outcome, c custom), "r" to clear the
    snapshot first (a job put back in the queue) or "-", then the envelope JSON after its
    offset, pre-encoded: ,"event":…,"data":…,"ts":…}
    (one value per event, not four: every argument costs the caller's client more than
    Redis, and a worker's progress batches are mostly arguments)

  Output: { epoch of channel 1, …, epoch of channel N, offset of event 1, offset of event 2, … }
          with offset 0 for an event dropped because its channel already had an outcome
          (append-publish-4.lua's "outcome-exists"); an event's epoch is its channel's.
  Events: one message per appended event on its channel's pub/sub channel, in order.

  Cost: one HMGET and one HSET per channel, the XADD and the PUBLISH per event.
]]
local size, ttl, publish, now = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local channels = tonumber(ARGV[5])
local epochs = ARGV[6]
local first = 7 + channels
local classes = { l = 'lifecycle', p = 'progress', o = 'outcome', c = 'custom' }

-- What each channel's meta hash says, read on its first event and kept here until the end:
-- the writes of one call are invisible to anyone until it returns, so one HSET at the end
-- leaves the hash as the per-event HSETs of append-publish-4.lua would have.
local state = {}

local function open(c)
  local meta, log = KEYS[2 * c - 1], KEYS[2 * c]
  local arg = ARGV[6 + c]
  local newline = string.find(arg, '\n', 1, true)
  local fresh = string.sub(epochs, 8 * c - 7, 8 * c)
  local read = redis.call('HMGET', meta, 'epoch', 'offset', 's:outcome', 'x')
  local s = {
    meta = meta,
    log = log,
    head = string.sub(arg, newline + 1),
    live = string.sub(meta, 1, -6),
    epoch = read[1],
    top = tonumber(read[2]) or 0,
    outcome = read[3],
    snapshot = {},
    appended = false,
  }
  local refreshed = tonumber(read[4])
  s.refresh = not refreshed or math.abs(now - refreshed) >= ttl * 10
  if not s.epoch then
    s.epoch = fresh
    -- A log without meta belongs to a lost epoch; its offsets would collide with the new ones.
    redis.call('DEL', log)
    redis.call('HSET', meta, 'epoch', s.epoch)
    s.top, s.outcome, s.refresh = 0, false, true
  end
  local seen = string.sub(arg, 1, newline - 1)
  if seen ~= '' then
    local seenEpoch, seenOffset = string.match(seen, '^(%S+) (%d+)$')
    if seenEpoch == s.epoch and tonumber(seenOffset) > s.top then
      s.epoch = fresh
      -- The log's entries belong to the old epoch; a reader in the new one must not get them.
      redis.call('DEL', log)
      redis.call('HSET', meta, 'epoch', s.epoch)
      s.refresh = true -- the new log has no TTL yet
    end
  end
  state[c] = s
  return s
end

local offsets = {}
for i = first, #ARGV do
  local arg = ARGV[i]
  local space = string.find(arg, ' ', 1, true)
  local c = tonumber(string.sub(arg, 1, space - 1))
  local s = state[c] or open(c)
  local class = classes[string.sub(arg, space + 1, space + 1)]
  local reset = string.sub(arg, space + 2, space + 2) == 'r'
  local offset = 0
  if reset then
    redis.call('HDEL', s.meta, 's:lifecycle', 's:progress', 's:outcome')
    s.snapshot['lifecycle'], s.snapshot['progress'], s.snapshot['outcome'] = nil, nil, nil
    s.outcome = false
  end
  if reset or class == 'custom' or not s.outcome then
    offset = s.top + 1
    local envelope = s.head .. '"' .. s.epoch .. '","offset":' .. offset .. string.sub(arg, space + 3)
    redis.call('XADD', s.log, 'MAXLEN', '~', size, offset .. '-0', 'e', envelope)
    redis.call(publish, s.live, envelope)
    s.top = offset
    s.snapshot[class] = envelope
    s.appended = true
    if class == 'outcome' then s.outcome = true end
  end
  offsets[#offsets + 1] = offset
end

local reply = {}
for c = 1, channels do
  local s = state[c]
  if s and s.appended then
    local fields = { 'offset', s.top }
    for class, envelope in pairs(s.snapshot) do
      fields[#fields + 1] = 's:' .. class
      fields[#fields + 1] = envelope
    end
    if s.refresh then
      fields[#fields + 1] = 'x'
      fields[#fields + 1] = now
    end
    redis.call('HSET', s.meta, unpack(fields))
    if s.refresh then
      redis.call('EXPIRE', s.meta, ttl)
      redis.call('EXPIRE', s.log, ttl)
    end
  end
  reply[c] = s and s.epoch or ''
end
for _, offset in ipairs(offsets) do reply[#reply + 1] = offset end
return reply
