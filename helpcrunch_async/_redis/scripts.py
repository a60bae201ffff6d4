"""The Lua scripts of `RedisBudget`: the rules of `_core.cap.Cap`, each one atomic step in Redis.

This module is pure: it imports neither asyncio nor redis; it only builds text.

Each script starts with the same prelude: the constants of the rules, generated
from the one public table `_core.cap.CONSTANTS` (plus `TTL_WINDOWS`, which only
Redis needs), then the parse of the cap's state. So the scripts and `Cap` never
drift apart, and nothing in them is patched by text replacement.

Every script takes ``ARGV[1..4]`` = limit, period, margin, epoch (see
`RedisBudget._args`); the rest of each one's ARGV and its reply are described
above it. The keys are `_core.shared_cap.key_names`: state, log, waiters,
leases, ticket.
"""

from __future__ import annotations

from helpcrunch_async._core.cap import CONSTANTS

__all__ = [
    "ACQUIRE",
    "ADMITTED",
    "HANDOVER_ON",
    "ON_RATE_LIMITED",
    "ON_SENT",
    "ON_SUCCESS",
    "REJOIN",
    "STATE_LOST",
    "TTL_WINDOWS",
    "WAIT",
]

# Windows of idleness after which the shared state expires.
TTL_WINDOWS = 10
# Verdicts of the acquire script.
WAIT, ADMITTED, STATE_LOST, HANDOVER_ON = 0, 1, 2, 3

_CONSTANTS = "".join(
    f"local {name} = {value!r}\n"
    for name, value in {**CONSTANTS, "TTL_WINDOWS": TTL_WINDOWS}.items()
)

# Shared by the scripts: parse the cap's state, format floats exactly, expire keys.
_PRELUDE = (
    _CONSTANTS
    + """
local limit = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local margin = tonumber(ARGV[3])
local window = period + margin
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local function fmt(x) return string.format('%.17g', x) end
local st = redis.call('HMGET', KEYS[1], 'allowance', 'spacing', 'pause_until', 'adapted_at',
  'streak', 'clean', 'rate_limited', 'adaptations', 'epoch', 'handover_until', 'slack',
  'jitter', 'offset', 'bursts', 'probe', 'probe_until', 'kept')
local allowance = math.min(tonumber(st[1]) or limit, limit)
local spacing = tonumber(st[2]) or 0
local pause_until = tonumber(st[3]) or -math.huge
local adapted_at = tonumber(st[4]) or -math.huge
local streak = tonumber(st[5]) or 0
local clean = tonumber(st[6]) or 0
local epoch = st[9]
local handover_until = tonumber(st[10]) or -math.huge
local slack = tonumber(st[11]) or 0
local jitter = tonumber(st[12]) or 0
-- The log holds each send less `offset`, which moves them all at once (Cap rule 2).
local offset = tonumber(st[13]) or 0
-- Cap rule 6: whether the server took a burst, and the probe out (its stamp, until when).
local bursts = st[14] == '1'
local probe = tonumber(st[15])
local probe_until = tonumber(st[16]) or -math.huge
local kept = tonumber(st[17]) or 0
-- _core.cap.pacing_interval.
local function pacing()
  local share = period / allowance
  local room = math.max(share * slack, SLACK_FLOOR,
    math.min(jitter * JITTER_COVER, share * JITTER_MAX))
  return math.max(share + room, window / allowance)
end
-- _core.cap.cold_interval: a send sooner than this after the last is a burst.
local function cold()
  local share = period / allowance
  return math.max(share + math.max(share * SLACK_START, SLACK_FLOOR), window / allowance)
end
-- A send this soon after the last is a burst any no-burst server refuses (rule 6).
local probe_gap = period / allowance / 2
-- Cap._prior (rule 5) and Cap._opening_interval (rule 6).
local function prior()
  return math.min(period / allowance * JITTER_PRIOR, JITTER_PRIOR_MAX) / JITTER_COVER
end
local function opening()
  local share = period / allowance
  local room = math.max(share * SLACK_START, SLACK_FLOOR,
    math.min(math.max(jitter, prior()) * JITTER_COVER, share * JITTER_MAX))
  return math.max(share + room, window / allowance)
end
-- Cap.on_success and Cap.on_rate_limited: the probe's answer (rule 6).
local function answer_probe(sent_at, took)
  if probe == sent_at then
    if took then redis.call('HSET', KEYS[1], 'bursts', '1') end
    redis.call('HDEL', KEYS[1], 'probe_until')
  end
end
-- The end of Cap.settle (rule 5): an answer ``late`` s after the quickest.
local function observe(late)
  kept = kept * KEPT_DECAY
  jitter = math.max(jitter * JITTER_DECAY, late, kept)
  if spacing > 0 then spacing = pacing() end
end
if not epoch then
  epoch = ARGV[4]
  redis.call('HSET', KEYS[1], 'epoch', epoch)
end
local function expire_all()
  local ttl = TTL_WINDOWS * window
  if pause_until - now + window > ttl then ttl = pause_until - now + window end
  local ms = math.ceil(ttl * 1000)
  for i = 1, #KEYS do redis.call('PEXPIRE', KEYS[i], ms) end
end
"""
)

# ARGV: limit, period, margin, epoch, ticket (0: none yet), lease grace, the
# epoch the caller knows ('' if none), whether it is in a hand-over ('1'/'0'),
# the caller's quickest round trip ('' if none yet).
# Returns {verdict, stamp or wait, ticket, epoch, now, pause_until, handover_until, entry}:
# verdict 1 admitted, 0 wait, 2 the state was lost, 3 a hand-over is on; entry is
# the admitted send as the log holds it (for ON_SENT), '' otherwise.
ACQUIRE = (
    _PRELUDE
    + """
local ticket = tonumber(ARGV[5])
local grace = tonumber(ARGV[6])
local entry = ''
local function reply(verdict, value)
  return {verdict, fmt(value), ticket, epoch, fmt(now), fmt(pause_until), fmt(handover_until),
    entry}
end
-- The state the caller knew is gone (Redis restarted): it must write its own
-- recent sends back and hand over first, as if it had fallen back.
if ARGV[7] ~= '' and ARGV[7] ~= epoch then return reply(2, 0) end
-- Someone is back from a fallback: until its hand-over ends, everyone keeps
-- to a fallback share.
if ARGV[8] ~= '1' and now < handover_until then return reply(3, handover_until) end
local n = allowance
-- Only two entries are read, whatever the log's length: the last, and the one
-- a slot depends on.
local full = redis.call('LLEN', KEYS[2])
local len = math.min(full, n)
local last_entry = nil
local last = nil
if full > 0 then
  last_entry = tonumber(redis.call('LINDEX', KEYS[2], -1))
  last = last_entry + offset
end

-- The earliest time of the (j+1)-th next send: Cap.next_paced_slot for j = 0,
-- an estimate for later ranks (one more window per round of n sends).
local function slot(j)
  local at = pause_until
  local rounds = math.floor(j / n)
  local idx = (j - rounds * n) - (n - len)
  if idx >= 0 then
    local sent = tonumber(redis.call('LINDEX', KEYS[2], full - len + idx)) + offset
    at = math.max(at, sent + window * (rounds + 1))
  elseif rounds > 0 then
    at = math.max(at, now + window * rounds)
  end
  if spacing > 0 then
    if last then at = math.max(at, last + (j + 1) * spacing)
    else at = math.max(at, now + j * spacing) end
  elseif not bursts then
    if at < probe_until then
      -- Cap rule 6: a probe is out; the others go at the pace a refusal would set.
      if last then at = math.max(at, math.min(probe_until, last + (j + 1) * opening()))
      else at = probe_until end
    elseif last and at > last + probe_gap and at < last + cold() then
      -- Too late for a probe, too soon for a no-burst server.
      at = last + cold()
    end
  end
  return at
end

local dead = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now)
for i = 1, #dead do
  redis.call('ZREM', KEYS[3], dead[i])
  redis.call('ZREM', KEYS[4], dead[i])
end
local rank
if ticket > 0 then
  rank = redis.call('ZCOUNT', KEYS[3], '-inf', '(' .. ticket)
else
  rank = redis.call('ZCARD', KEYS[3])
end
local at = slot(rank)
if at <= now then
  if not bursts and spacing == 0 and last and now <= last + probe_gap and now >= probe_until then
    -- Cap rule 6: a burst, and none is out: this one asks the server
    -- (_core.cap.probe_wait, with this process's quickest trip).
    local quickest = tonumber(ARGV[9]) or math.huge
    local wait = math.min(period, math.max(cold(), PROBE_TRIPS * quickest))
    redis.call('HSET', KEYS[1], 'probe', fmt(now), 'probe_until', fmt(now + wait))
  end
  -- The log stays sorted, even if the server's clock goes backwards.
  local kept = now - offset
  if last_entry and kept < last_entry then kept = last_entry end
  entry = fmt(kept)
  redis.call('RPUSH', KEYS[2], entry)
  redis.call('LTRIM', KEYS[2], -limit, -1)
  if ticket > 0 then
    redis.call('ZREM', KEYS[3], ticket)
    redis.call('ZREM', KEYS[4], ticket)
  end
  expire_all()
  return reply(1, now)
end
if ticket == 0 then ticket = redis.call('INCR', KEYS[5]) end
redis.call('ZADD', KEYS[3], ticket, ticket)
redis.call('ZADD', KEYS[4], at + grace, ticket)
expire_all()
return reply(0, at - now)
"""
)

# ARGV: limit, period, margin, epoch, sent_at, late (the answer's lateness, rule 2;
# '' when unknown).
# Mirrors the end of Cap.settle, then Cap.on_success.
ON_SUCCESS = (
    _PRELUDE
    + """
local sent_at = tonumber(ARGV[5])
if tonumber(ARGV[6]) then observe(tonumber(ARGV[6])) end
answer_probe(sent_at, true)
redis.call('HSET', KEYS[1], 'jitter', fmt(jitter), 'kept', fmt(kept), 'spacing', fmt(spacing))
if sent_at < adapted_at then return 0 end
if streak ~= 0 then redis.call('HSET', KEYS[1], 'streak', 0) end
if allowance < limit or slack > SLACK_START then
  clean = clean + 1
  if clean >= RECOVERY_FACTOR * allowance then
    clean = 0
    if allowance < limit then
      allowance = math.min(limit, allowance + math.max(1, math.floor(limit / 10)))
    else
      slack = math.max(SLACK_START, slack / 2)
    end
    spacing = pacing()
  end
  redis.call('HSET', KEYS[1], 'clean', clean, 'allowance', allowance, 'spacing', fmt(spacing),
    'slack', fmt(slack))
end
expire_all()
return 1
"""
)

# ARGV: limit, period, margin, epoch, sent_at, retry_after ('' when absent), late
# ('' when unknown).
# Mirrors the end of Cap.settle, then Cap.on_rate_limited; returns {pause, spacing,
# allowance, now}.
ON_RATE_LIMITED = (
    _PRELUDE
    + """
local sent_at = tonumber(ARGV[5])
local retry_after = tonumber(ARGV[6])
if tonumber(ARGV[7]) then observe(tonumber(ARGV[7])) end
answer_probe(sent_at, false)
clean = 0
if sent_at >= adapted_at then
  streak = streak + 1
  adapted_at = now
  if spacing == 0 then
    slack = SLACK_START
    jitter = math.max(jitter, prior())
  else
    jitter = 2 * jitter
    if jitter > kept then kept = jitter end
    if slack < SLACK_MAX then
      slack = math.min(SLACK_MAX, 2 * slack)
    else
      allowance = math.max(1, math.floor(allowance * DECREASE))
    end
  end
  spacing = pacing()
  redis.call('HINCRBY', KEYS[1], 'adaptations', 1)
  redis.call('HSET', KEYS[1], 'adapted_at', fmt(adapted_at))
end
local pause
if retry_after and retry_after >= 0 then
  pause = retry_after
else
  pause = math.min(period, spacing * 2 ^ math.max(0, streak - 1))
end
pause = math.max(pause, spacing)
pause_until = math.max(pause_until, now + pause)
redis.call('HINCRBY', KEYS[1], 'rate_limited', 1)
redis.call('HSET', KEYS[1], 'clean', clean, 'streak', streak, 'allowance', allowance,
  'spacing', fmt(spacing), 'slack', fmt(slack), 'jitter', fmt(jitter), 'kept', fmt(kept),
  'pause_until', fmt(pause_until))
expire_all()
return {fmt(pause_until - now), fmt(spacing), allowance, fmt(now)}
"""
)

# ARGV: limit, period, margin, epoch, known epoch, hand-over seconds, count of
# fallback ages, ages... Writes a rejoining process's recent sends into the log:
# its fallback sends, and its shared ones too when the state was lost (a new
# epoch); extends the shared hand-over. Returns {now, epoch, pause_until, handover_until}.
REJOIN = (
    _PRELUDE
    + """
local same = (epoch == ARGV[5])
local nf = tonumber(ARGV[7])
local stamps = {}
for i = 8, #ARGV do
  if (i < 8 + nf) or not same then table.insert(stamps, now - tonumber(ARGV[i]) - offset) end
end
local extend = tonumber(ARGV[6])
if extend > 0 and now + extend > handover_until then
  handover_until = now + extend
  redis.call('HSET', KEYS[1], 'handover_until', fmt(handover_until))
end
if #stamps > 0 then
  local old = redis.call('LRANGE', KEYS[2], 0, -1)
  for i = 1, #old do table.insert(stamps, tonumber(old[i])) end
  table.sort(stamps)
  redis.call('DEL', KEYS[2])
  local first = math.max(1, #stamps - limit + 1)
  for i = first, #stamps do redis.call('RPUSH', KEYS[2], fmt(stamps[i])) end
end
expire_all()
return {fmt(now), epoch, fmt(pause_until), fmt(handover_until)}
"""
)


# ARGV: limit, period, margin, epoch, entry ('' for none), to, shift. Mirrors the
# moves of Cap.correct and Cap.settle: every send moves ``shift`` s later (one
# offset), then the send the log holds as ``entry`` moves to ``to`` (a time, not
# an entry), and the log stays sorted. Reads and rewrites only the log's tail
# back to the older of the two places, so a long log costs nothing more.
# Returns the send's new entry, or '' when it is not (or no longer) in the log.
ON_SENT = (
    _PRELUDE
    + """
local shift = tonumber(ARGV[7])
if shift > 0 then
  offset = offset + shift
  redis.call('HSET', KEYS[1], 'offset', fmt(offset))
end
local from = tonumber(ARGV[5])
local to = tonumber(ARGV[6])
if not from or not to then
  expire_all()
  return ''
end
to = to - offset
-- Entries are compared as numbers: Python sends what the log holds, and both
-- parse back to the same double. The log is sorted: find, 64 at a time from
-- its end, where the entries older than both places begin.
local low = math.min(from, to)
local full = redis.call('LLEN', KEYS[2])
local first = full
while first > 0 do
  first = math.max(0, first - 64)
  if tonumber(redis.call('LINDEX', KEYS[2], first)) < low then break end
end
local entries = redis.call('LRANGE', KEYS[2], first, -1)
local found = nil
for i = #entries, 1, -1 do
  local at = tonumber(entries[i])
  if at == from then
    found = i
    break
  end
  if at < from then break end
end
if not found then
  expire_all()
  return ''
end
table.remove(entries, found)
local j = #entries + 1
while j > 1 and tonumber(entries[j - 1]) > to do j = j - 1 end
local kept = fmt(to)
table.insert(entries, j, kept)
if first > 0 then redis.call('LTRIM', KEYS[2], 0, first - 1) else redis.call('DEL', KEYS[2]) end
-- In chunks: unpack() of a whole large tail would overflow Lua's stack.
for i = 1, #entries, 1000 do
  redis.call('RPUSH', KEYS[2], unpack(entries, i, math.min(i + 999, #entries)))
end
expire_all()
return kept
"""
)
