--[[
  Claim the members of a schedule whose time has come, so that of several processes sweeping
  the same schedule only one handles each member: a claimed member's score moves a lease into
  the future. The claimer sets the real next time (or removes the member) when it is done; if
  it dies, the member comes due again when the lease ends.

  KEYS[1] schedule sorted set (member = id, score = due time in ms)

  ARGV[1] now, in ms
  ARGV[2] lease, in ms
  ARGV[3] most members to claim

  Output: the claimed members (possibly none).
  Events: none.
]]
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local until_ms = tonumber(ARGV[1]) + tonumber(ARGV[2])
for _, member in ipairs(due) do
  redis.call('ZADD', KEYS[1], 'XX', until_ms, member)
end
return due
