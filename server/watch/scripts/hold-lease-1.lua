--[[
  Takes a lease that is free, or renews one this holder already has.

  KEYS[1] the lease (a string holding the holder's name, with an expiry)

  ARGV[1] holder name (unique per process)
  ARGV[2] lease length in milliseconds

  Output: 1 when the caller holds the lease now (taken or renewed), 0 when another holder has it.
  Events: none.
]]
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
