--[[
  Gives a lease up, if the caller still holds it (a lease that expired and was taken by
  another holder is left alone).

  KEYS[1] the lease

  ARGV[1] holder name

  Output: 1 when it was released, 0 when the caller did not hold it.
  Events: none.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
