"""The fleet budget's Redis scripts. Each runs atomically, so no two replicas can both take the last tokens.

Time comes from Redis (`TIME`), not from the callers, so replicas with skewed clocks agree on refills.
Buckets refill continuously, as Anthropic's do: `capacity` per minute, at most `capacity` banked.
Every script takes the same keys (config, state, leases, cool-down, pending refunds, the waiting line and
its heartbeats) and the configured
defaults as ARGV[1..3] (rpm, input_tpm, output_tpm); the hash written by the operator (KEYS[1])
overrides them.

Refunds of unused tokens become spendable only after a short delay: the API may settle its own
bucket a moment after the response has reached us, and spending a refund it has not yet made
would earn a 429.
"""

from __future__ import annotations

_PRELUDE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function setting(name, default)
  local v = redis.call('HGET', KEYS[1], name)
  if v then return tonumber(v) end
  return tonumber(default)
end
local caps = {req = setting('rpm', ARGV[1]), inp = setting('input_tpm', ARGV[2]), out = setting('output_tpm', ARGV[3])}
local function level_of(name)
  local cap = caps[name]
  local level = tonumber(redis.call('HGET', KEYS[2], name) or cap)
  local ts = tonumber(redis.call('HGET', KEYS[2], name .. '_ts') or now)
  return math.min(cap, level + math.max(0, now - ts) * cap / 60000.0)
end
local function credit(name, amount)
  if amount ~= 0 then
    redis.call('HSET', KEYS[2], name, math.min(caps[name], level_of(name) + amount), name .. '_ts', now)
  end
end
local due = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now)
for _, refund in ipairs(due) do
  local _, _, inp, out = string.find(refund, '^[^|]+|([-%d.]+)|([-%d.]+)$')
  credit('inp', tonumber(inp))
  credit('out', tonumber(out))
end
if #due > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now) end
"""

# ARGV: rpm, input_tpm, output_tpm, max_in_flight, chat_reserve, lease_id, priority, input, output, lease_ttl_ms,
#       margin_ms, stale_ms, starve_ms, chat_max_share, since_ms (the caller's earlier place in line; 0: none)
# The margin keeps every bucket `margin_ms` of refill behind: the API takes its share a moment after we
# take ours, and a bucket taken from full starts refilling later there than here.
#
# Callers wait in one line (KEYS[6], scored by arrival; KEYS[7] holds when each was last seen, so a
# waiter that died leaves the line after `stale_ms`). Within a priority the line is first come, first
# served: a call is only admitted when no older call of its priority waits, so no owner can starve
# another by retrying faster. Between priorities, chat keeps its reserve and may use the rest too; but
# once chat has taken more than `chat_max_share` of the output reserved over the last minute or so
# (a decaying sum), an estimation that has waited `starve_ms` goes first, reserve included, so a chat
# flood cannot starve estimations either.
# A later call of work already under way (a chat turn's follow-up) passes the arrival its first call was
# given, and takes its place in line from then, not from now.
# Returns {granted (0/1), wait_ms, reason, position in its priority's line, expected wait ms, arrival ms}.
RESERVE = (
    _PRELUDE
    + """
local batch = ARGV[7] ~= 'chat'
local me = (batch and 'e|' or 'c|') .. ARGV[6]
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', KEYS[7], '-inf', now - tonumber(ARGV[12]))) do
  redis.call('ZREM', KEYS[6], gone)
end
redis.call('ZREMRANGEBYSCORE', KEYS[7], '-inf', now - tonumber(ARGV[12]))
local since = tonumber(ARGV[15])
redis.call('ZADD', KEYS[6], 'NX', (since > 0 and since < now) and since or now, me)
redis.call('ZADD', KEYS[7], now, me)
local arrived = tonumber(redis.call('ZSCORE', KEYS[6], me))
local rank = redis.call('ZRANK', KEYS[6], me)
local mine, starving = 0, false
if rank > 0 then
  local ahead = redis.call('ZRANGE', KEYS[6], 0, rank - 1, 'WITHSCORES')
  for i = 1, #ahead, 2 do
    local kind = string.sub(ahead[i], 1, 2)
    if kind == string.sub(me, 1, 2) then mine = mine + 1 end
    if kind == 'e|' and tonumber(ahead[i + 1]) <= now - tonumber(ARGV[13]) then starving = true end
  end
end
local decay = math.exp(-math.max(0, now - tonumber(redis.call('HGET', KEYS[2], 'use_ts') or now)) / 60000.0)
local use_c = tonumber(redis.call('HGET', KEYS[2], 'use_c') or '0') * decay
local use_e = tonumber(redis.call('HGET', KEYS[2], 'use_e') or '0') * decay
local chat_over = use_c > tonumber(ARGV[14]) * (use_c + use_e)
if batch or not chat_over then starving = false end
local gap_field = batch and 'gap_e' or 'gap_c'
local gap = tonumber(redis.call('HGET', KEYS[2], gap_field) or '1000')
local function deny(wait_ms, why)
  return {0, math.ceil(wait_ms), why, mine + 1, math.ceil((mine + 1) * gap), math.floor(arrived)}
end
if mine > 0 then return deny(math.min(2000, 100 * mine), 'queue') end
if starving then return deny(200, 'estimate_first') end
local cool = tonumber(redis.call('GET', KEYS[4]) or '0')
if cool > now then return deny(cool - now, 'cooldown') end
local reserve = setting('chat_reserve', ARGV[5])
if batch and chat_over and arrived <= now - tonumber(ARGV[13]) then reserve = 0 end
local want = {req = 1, inp = tonumber(ARGV[8]), out = tonumber(ARGV[9])}
local levels, takes = {}, {}
local wait, reason = 0, 'ok'
for _, name in ipairs({'req', 'inp', 'out'}) do
  local cap = caps[name]
  local level = level_of(name)
  local take = math.min(want[name], cap)
  local floor = 0
  if batch then floor = cap * reserve end
  local target = math.min(take + floor + cap * tonumber(ARGV[11]) / 60000.0, cap)
  if level < target then
    local w = (target - level) * 60000.0 / cap
    if w > wait then wait, reason = w, name end
  end
  levels[name], takes[name] = level, take
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local slots = setting('max_in_flight', ARGV[4])
if batch then slots = math.max(1, math.floor(slots * (1 - reserve))) end
if redis.call('ZCARD', KEYS[3]) >= slots and wait < 100 then wait, reason = 100, 'in_flight' end
if wait > 0 then
  local next_refund = redis.call('ZRANGE', KEYS[5], 0, 0, 'WITHSCORES')
  if next_refund[2] then wait = math.min(wait, tonumber(next_refund[2]) - now + 1) end
  return deny(wait, reason)
end
for _, name in ipairs({'req', 'inp', 'out'}) do
  redis.call('HSET', KEYS[2], name, levels[name] - takes[name], name .. '_ts', now)
end
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[10]), ARGV[6])
if batch then use_e = use_e + takes.out else use_c = use_c + takes.out end
redis.call('HSET', KEYS[2], 'use_c', use_c, 'use_e', use_e, 'use_ts', now)
redis.call('ZREM', KEYS[6], me)
redis.call('ZREM', KEYS[7], me)
local last = tonumber(redis.call('HGET', KEYS[2], 'last_' .. gap_field) or now)
redis.call('HSET', KEYS[2], gap_field, 0.8 * gap + 0.2 * math.min(now - last, 10000), 'last_' .. gap_field, now)
return {1, 0, 'ok', 0, 0, math.floor(arrived)}
"""
)

# ARGV: rpm, input_tpm, output_tpm, lease_id, input_refund, output_refund, refund_delay_ms
# A debt (negative refund: the call used more than was reserved) is charged at once; a refund waits.
SETTLE = (
    _PRELUDE
    + """
redis.call('ZREM', KEYS[3], ARGV[4])
local inp, out = tonumber(ARGV[5]), tonumber(ARGV[6])
credit('inp', math.min(inp, 0))
credit('out', math.min(out, 0))
if inp > 0 or out > 0 then
  redis.call('ZADD', KEYS[5], now + tonumber(ARGV[7]), ARGV[4] .. '|' .. math.max(inp, 0) .. '|' .. math.max(out, 0))
end
return 1
"""
)

# KEYS: line, line heartbeats. ARGV: the caller's member in the line. A waiter that gives up leaves at once.
LEAVE = """
redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('ZREM', KEYS[2], ARGV[1])
"""

# KEYS: leases. ARGV: lease_id, ttl_ms. Extends a live lease; an expired one stays expired.
HEARTBEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
"""

# KEYS: cooldown. ARGV: ms. Only ever pushes the fleet-wide pause later, never earlier.
COOL_DOWN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local until_ms = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ms > current then redis.call('SET', KEYS[1], until_ms, 'PX', tonumber(ARGV[1]) + 1000) end
return math.max(until_ms, current)
"""

# ARGV: rpm, input_tpm, output_tpm, max_in_flight, chat_reserve.
# A view for dashboards and the CLI (its only write folds in refunds that are due):
# {available req, inp, out, capacity req, inp, out, in_flight, max_in_flight, cooldown_ms, chat_reserve}.
SNAPSHOT = (
    _PRELUDE
    + """
local in_flight = redis.call('ZCOUNT', KEYS[3], now, '+inf')
local cool = math.max(0, tonumber(redis.call('GET', KEYS[4]) or '0') - now)
return {math.floor(level_of('req')), math.floor(level_of('inp')), math.floor(level_of('out')),
        caps.req, caps.inp, caps.out, in_flight, setting('max_in_flight', ARGV[4]), cool,
        tostring(setting('chat_reserve', ARGV[5]))}
"""
)
