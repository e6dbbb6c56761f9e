--[[
  Append one event to a channel's log, update the channel's state snapshot and publish it,
  atomically, so a subscriber reading the log and one listening live never see a gap.

  KEYS[1] meta hash   ({channel}:meta)  epoch, offset, s:<class> = newest event of that class;
                      the pub/sub channel is this name without ":meta" ({channel}, same slot)
  KEYS[2] log stream  ({channel}:log)   entries "<offset>-0" with field e = envelope JSON
  KEYS[3] guard key in the same slot (a job's cancel flag), read only when ARGV[12] is set
  KEYS[4] a list in the same slot (the job's timeline), written only when ARGV[15] is set

  ARGV[1]  the envelope JSON up to its epoch, pre-encoded by the caller: {"channel":…,"epoch":
  ARGV[2]  the envelope JSON after its offset, pre-encoded by the caller: ,"event":…,"data":…,"ts":…}
           (the script only puts the epoch and offset between them: no JSON work in Lua)
  ARGV[3]  event class: lifecycle | progress | outcome | custom
  ARGV[4]  history size: log entries kept
  ARGV[5]  retention in seconds: the keys' TTL, refreshed by appends (see ARGV[9])
  ARGV[6]  publish command: PUBLISH (single Redis) or SPUBLISH (cluster)
  ARGV[7]  epoch to use if the channel has none yet (random base64url from the caller: it needs
           no JSON escaping)
  ARGV[8]  "<epoch> <offset>" of the newest event this caller appended on the channel, or "":
           if the channel is now behind it in that epoch, Redis lost its newest events (a
           failover to a replica that had not received them, a restart that lost the last
           writes), and the channel moves to a new epoch (ARGV[7]) before this event, so that
           no offset a subscriber may have seen is given to another event
  ARGV[9]  the caller's clock in ms: the TTLs are refreshed only when the last refresh (field
           x of the meta hash) is 1% of the retention or more away from it, so a channel may
           expire up to 1% early; two EXPIREs saved on almost every event
  The rest is optional: a plain append (every progress event) sends ARGV[1..9] only, and
  ARGV[10..17] all or none.
  ARGV[10] "reset" to clear the snapshot first (a job put back in the queue), else ""
  ARGV[11] a connection id not to deliver to live (Pusher's socket_id), JSON-encoded, or "";
           not stored
  ARGV[12] "" or the class of the event to append instead when KEYS[3] holds a value
  ARGV[13] the envelope after its offset for that event, up to the value: ,"event":…,"data":{"…":
  ARGV[14] the rest of it, after the value (JSON-encoded here): },"ts":…}
  ARGV[15] "" or an entry to push onto KEYS[4] (with pcall: a timeline never fails an append);
           the list is trimmed only once it is over ARGV[16], and its TTL set when the push
           created it and whenever the channel's TTLs are refreshed (ARGV[9])
  ARGV[16] entries KEYS[4] keeps
  ARGV[17] KEYS[4]'s TTL in seconds

  Output: { offset, epoch } (the caller puts the envelope together as the script did), or
          { offset, epoch, "instead", value } when KEYS[3]'s value replaced the event, or
          { 0, epoch, reason } when the event was dropped:
    reason "outcome-exists"  the channel already has an outcome: outcomes happen once, and
                             lifecycle/progress after an outcome are stale
  Events: one message on the pub/sub channel with the envelope JSON (plus "exclude" when
  ARGV[11] is set).

  The log is trimmed approximately (MAXLEN ~, whole stream nodes at a time) on every 32nd
  offset: it may keep up to about 130 entries more than ARGV[4]; read-since-2.lua never
  replays more than ARGV[4].
  Cost: one HMGET, the XADD, one HSET and the PUBLISH per plain event, four redis.call in all
  (each costs more than the command it runs: INFO commandstats for it is what
  test/bench/append-cost.ts reports). In a profile of Redis running appends, about 40% of its
  time was Lua itself, most of it making strings and converting numbers, so the script makes
  as few as it can: the envelope and the offset's string, once.
]]
local SNAPSHOT_KEYS = { lifecycle = 's:lifecycle', progress = 's:progress', outcome = 's:outcome', custom = 's:custom' }
local meta, log = KEYS[1], KEYS[2]
local class, tail = ARGV[3], ARGV[2]
local options = #ARGV > 9

local instead = false
if options and ARGV[12] ~= '' then
  instead = redis.call('GET', KEYS[3])
  if instead then
    class = ARGV[12]
    tail = ARGV[13] .. cjson.encode(instead) .. ARGV[14]
  end
end

-- One read for everything the checks need; s:outcome comes back only once a job has ended.
local state = redis.call('HMGET', meta, 'epoch', 'offset', 's:outcome', 'x')
local epoch, top, outcome = state[1], tonumber(state[2]) or 0, state[3]
local ttl, now = tonumber(ARGV[5]), tonumber(ARGV[9])
local refreshed = tonumber(state[4])
local refresh = not refreshed or math.abs(now - refreshed) >= ttl * 10
if not epoch then
  epoch = ARGV[7]
  -- A log without meta belongs to a lost epoch; its offsets would collide with the new ones.
  redis.call('DEL', log)
  redis.call('HSET', meta, 'epoch', epoch)
  top, outcome, refresh = 0, false, true
end

local seen = ARGV[8]
-- "<epoch> <offset>", read without a pattern: every string Lua makes costs Redis (see "Cost").
if seen ~= '' and string.find(seen, epoch, 1, true) == 1 and string.byte(seen, #epoch + 1) == 32 and (tonumber(string.sub(seen, #epoch + 2)) or 0) > top then
  epoch = ARGV[7]
  -- The log's entries belong to the old epoch; a reader in the new one must not get them.
  redis.call('DEL', log)
  redis.call('HSET', meta, 'epoch', epoch)
  refresh = true -- the new log has no TTL yet
end

if options and ARGV[15] ~= '' then
  -- Before the outcome check, as before: a timeline line is written even for a dropped event.
  local length = redis.pcall('RPUSH', KEYS[4], ARGV[15])
  if type(length) == 'number' then
    local max = tonumber(ARGV[16])
    if length > max then redis.pcall('LTRIM', KEYS[4], -max, -1) end
    if length == 1 or refresh then redis.pcall('EXPIRE', KEYS[4], tonumber(ARGV[17])) end
  end
end

if options and ARGV[10] == 'reset' then
  redis.call('HDEL', meta, 's:lifecycle', 's:progress', 's:outcome')
elseif class ~= 'custom' and outcome then
  return { 0, epoch, 'outcome-exists' }
end

local offset = top + 1
-- The offset as a string once: the envelope, the entry id ("<offset>" is "<offset>-0") and the meta hash.
local id = tostring(offset)
local envelope = ARGV[1] .. '"' .. epoch .. '","offset":' .. id .. tail

redis.call('XADD', log, id, 'e', envelope)
-- Trimmed on every 32nd offset, not on every append: three arguments fewer per event.
if offset % 32 == 0 then redis.call('XTRIM', log, 'MAXLEN', '~', ARGV[4]) end
local snapshotKey = SNAPSHOT_KEYS[class]
if refresh then
  redis.call('HSET', meta, 'offset', id, snapshotKey, envelope, 'x', now)
  redis.call('EXPIRE', meta, ttl)
  redis.call('EXPIRE', log, ttl)
else
  redis.call('HSET', meta, 'offset', id, snapshotKey, envelope)
end
local published = envelope
if options and ARGV[11] ~= '' then
  published = string.sub(envelope, 1, -2) .. ',"exclude":' .. ARGV[11] .. '}'
end
redis.call(ARGV[6], string.sub(meta, 1, -6), published)
if instead then return { offset, epoch, 'instead', instead } end
return { offset, epoch }
