"""The Lua scripts of the idempotency store: one call per batch (per slot on a Redis Cluster).

An event's keys share its hash tag `{<group>:<provider>:<shard>}`: its claim key
`webhooks:idem:{...}:<event id>` (a token with a lease while a member handles it) and the done-mark tables
of its shard, `webhooks:done:{...}:<bucket>`, one per time bucket of the provider's remember window.

A table holds the 16-byte digests of handled events as the fields of small hashes, `<table>:0`, `<table>:1`,
..., and their count in the field `n` of `<table>:0`. It grows by linear hashing: at every `CAPACITY`
digests one more hash is split off an existing one, so each stays below `hash-max-listpack-entries` (512 by
default) and keeps Redis's compact listpack encoding (about 20 bytes a digest), however many events come.
Which hash holds a digest follows from the count alone. A table expires as a whole, a remember window after
its bucket ends: each hash gets that expiry once, when it is made (no hash is ever left empty, so none is made
again without it), not with every digest.

Lookups (`claim`, `is_done`) check the current bucket and the `SPAN` before it, which together cover the
window, and the next one (for members whose clocks are a little apart). A `done` string at the claim key of
the layout before (`webhooks:idem:<group>:<provider>:<id>`, single Redis only) counts as done too until it
expires, so an upgraded worker honours the old marks.
"""

from __future__ import annotations

# Digests per hash on average; the most a hash holds is about twice that (a hash about to be split).
CAPACITY = 200
# Time buckets per remember window: a mark is kept between one window and 1 + 1/SPAN windows, and a lookup
# checks SPAN + 2 tables.
SPAN = 2

# Shared by every script. A digest's hash is its bytes 2-5 (byte 1 picked the shard): `bin(h, n)` is the
# hash of a table holding n digests that h belongs in (linear hashing with 1 + n // CAPACITY hashes).
_LIB = (
    f"local CAPACITY = {CAPACITY}\n"
    + """
local function h32(digest)
    local b1, b2, b3, b4 = string.byte(digest, 2, 5)
    return ((b1 * 256 + b2) * 256 + b3) * 256 + b4
end
local function low_power(m)
    local low = 1
    while low * 2 <= m do low = low * 2 end
    return low
end
local function bin(h, n)
    local m = 1 + math.floor(n / CAPACITY)
    local low = low_power(m)
    local a = h % low
    if a < m - low then a = h % (2 * low) end
    return a
end
local function tag(key)
    return string.match(key, '{[^}]*}')
end
-- The digest count of each table this call has read (by its first hash): a batch's events share a few dozen
-- tables, so most lookups need no HGET. A script that adds digests keeps it up to date.
local counts = {}
local function count(first)
    local n = counts[first]
    if n == nil then
        n = tonumber(redis.call('HGET', first, 'n') or '0')
        counts[first] = n
    end
    return n
end
local function is_done(prefix, key, digest, bucket, span)
    local h = h32(digest)
    local tagged = prefix .. tag(key) .. ':'
    -- One bucket ahead too: another member whose clock runs a little ahead may have written there already.
    for b = bucket - span, bucket + 1 do
        local table_ = tagged .. b
        local n = count(table_ .. ':0')
        if n > 0 and redis.call('HEXISTS', table_ .. ':' .. bin(h, n), digest) == 1 then
            return true
        end
    end
    return false
end
"""
)

# KEYS: per event its claim key, then (stride 2) its claim key of the layout before. ARGV: token, lease in ms,
# '1' to take done events too (a forced replay), stride, done prefix, span, then per event its digest and
# current bucket. Returns per event 0 (claimed), 1 (done) or 2 (held by another claim). A claim key that holds
# our token is ours: the reply to an earlier claim was lost and the call is being tried again.
CLAIM = (
    _LIB
    + """
local token, lease_ms, force, stride = ARGV[1], ARGV[2], ARGV[3] == '1', tonumber(ARGV[4])
local prefix, span = ARGV[5], tonumber(ARGV[6])
local result = {}
for i = 1, #KEYS / stride do
    local key = KEYS[(i - 1) * stride + 1]
    local digest, bucket = ARGV[5 + 2 * i], tonumber(ARGV[6 + 2 * i])
    -- The layout before wrote 'done' or a claim token at the claim key without a hash tag.
    local before = false
    if stride == 2 then before = redis.call('GET', KEYS[i * 2]) end
    if not force and (before == 'done' or is_done(prefix, key, digest, bucket, span)) then
        result[i] = 1
    elseif before and before ~= 'done' then
        result[i] = 2
    elseif redis.call('SET', key, token, 'NX', 'PX', lease_ms) then
        result[i] = 0
    elseif redis.call('GET', key) == token then
        redis.call('PEXPIRE', key, lease_ms)
        result[i] = 0
    else
        result[i] = 2
    end
end
return result
"""
)

# KEYS: the claim keys. ARGV: token, done prefix, claim key prefix, handled-mark prefix, then per event its
# digest, current bucket and the time its bucket's table expires (epoch s). Returns 1 per event marked done:
# ours, or free because our lease lapsed (Redis was away longer than it) and nobody claimed it since. An event
# another member claimed meanwhile is left alone: that member is running it too, and marks it done itself.
# A done event's per-handler marks (same hash tag) are deleted: they are kept only while it is unfinished.
COMPLETE = (
    _LIB
    + """
local function split(table_, n, expire_at)
    -- n digests make one hash more: the next one in linear-hashing order takes its share of an old one. Neither is
    -- left empty (an `n` field, which no lookup reads but the first hash's, holds the place of the digests), so
    -- each hash keeps the expiry it was made with, here or with the table's first digest.
    local m = n / CAPACITY
    local low = low_power(m)
    local source = table_ .. ':' .. (m - low)
    local moving, staying = {}, 0
    for _, field in ipairs(redis.call('HKEYS', source)) do
        if field ~= 'n' and h32(field) % (2 * low) == m then
            moving[#moving + 1] = field
        else
            staying = staying + 1
        end
    end
    local pairs_ = {'n', ''}
    if #moving > 0 then
        if staying == 0 then redis.call('HSET', source, 'n', '') end
        redis.call('HDEL', source, unpack(moving))
        pairs_ = {}
        for _, field in ipairs(moving) do
            pairs_[#pairs_ + 1] = field
            pairs_[#pairs_ + 1] = ''
        end
    end
    local target = table_ .. ':' .. m
    redis.call('HSET', target, unpack(pairs_))
    redis.call('EXPIREAT', target, expire_at)
end
local token, prefix, claim_prefix, handled_prefix = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
-- The tables that took digests in this call.
local grown = {}
local result = {}
for i, key in ipairs(KEYS) do
    local digest, bucket, expire_at = ARGV[3 * i + 2], ARGV[3 * i + 3], ARGV[3 * i + 4]
    local value = redis.call('GET', key)
    local ours = value == token or value == false
    if ours then
        if value then redis.call('DEL', key) end
        redis.call('DEL', handled_prefix .. string.sub(key, #claim_prefix + 1))
        local table_ = prefix .. tag(key) .. ':' .. bucket
        local first = table_ .. ':0'
        local n = count(first)
        -- With no digest yet, the digest's hash is the first one: it gets the count and the expiry. Any other hash
        -- got its expiry from the split that made it.
        local hash = table_ .. ':' .. bin(h32(digest), n)
        if redis.call('HSET', hash, digest, '') == 1 then
            if n == 0 then redis.call('EXPIREAT', hash, expire_at) end
            n = n + 1
            counts[first] = n
            grown[first] = true
            if n % CAPACITY == 0 then split(table_, n, expire_at) end
        end
    end
    result[i] = ours and 1 or 0
end
-- The counts written once per table (a script runs alone: nothing reads them in between).
for first in pairs(grown) do
    redis.call('HSET', first, 'n', counts[first])
end
return result
"""
)

# KEYS: per event its claim key, then (stride 2) its claim key of the layout before. ARGV: stride, done
# prefix, span, then per event its digest and current bucket. Returns 1 per event that is done.
IS_DONE = (
    _LIB
    + """
local stride, prefix, span = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local result = {}
for i = 1, #KEYS / stride do
    local key = KEYS[(i - 1) * stride + 1]
    local done = stride == 2 and redis.call('GET', KEYS[i * 2]) == 'done'
    done = done or is_done(prefix, key, ARGV[2 + 2 * i], tonumber(ARGV[3 + 2 * i]), span)
    result[i] = done and 1 or 0
end
return result
"""
)


def _on_our_claims(action: str) -> str:
    # A script that runs `action` on each claim key (KEYS) holding our token (ARGV[1]): 1 per key it ran on.
    return f"""
local result = {{}}
for i, key in ipairs(KEYS) do
    local ours = redis.call('GET', key) == ARGV[1]
    if ours then {action} end
    result[i] = ours and 1 or 0
end
return result
"""


# KEYS: the claim keys; ARGV[1]: our token. Returns 1 per key we deleted.
RELEASE = _on_our_claims("redis.call('DEL', key)")

# KEYS: the claim keys; ARGV[1]: our token, ARGV[2]: the lease in ms. Returns 1 per key whose lease we renewed.
RENEW = _on_our_claims("redis.call('PEXPIRE', key, ARGV[2])")
