/**
 * The Lua scripts behind the Redis store: Redis runs each one whole, so every write is atomic
 * whichever API or worker sends it. Reads are plain commands, checked by the set's stamp.
 *
 * Keys, under the deployment's prefix P (so deleting `P:*` removes the sets with the rest):
 *   P:class-sets               hash  name -> uid (a set's keys are named by uid, so a replace can
 *                                    build the new set aside and switch to it in one step)
 *   P:class-sets:stamps        hash  name -> "uid:version", read to see whether a cached matrix is current
 *   P:class-set:UID:meta       hash  name, model_id, model_sha256, dim, threshold, created_at,
 *                                    updated_at, version, seq
 *   P:class-set:UID:labelof    hash  image sha256 -> label
 *   P:class-set:UID:info       hash  image sha256 -> JSON {source, addedAt}
 *   P:class-set:UID:vectors    hash  image sha256 -> float32 little-endian bytes
 *   P:class-set:UID:order      zset  image sha256 scored by when it was added
 *   P:class-set:UID:labels     hash  label -> example count
 *   P:class-set:UID:label:L    set   the image sha256s under label L
 * The scripts name keys they derive from the uid, so they need one Redis (not Redis Cluster).
 */

// ARGV[1] is always the key prefix "P:class-set:"; KEYS[1] the index, KEYS[2] the stamps.
const PRELUDE = `
local setPrefix = ARGV[1]
local function key(uid, part) return setPrefix .. uid .. ':' .. part end
local function keysOf(uid)
  local keys = {key(uid, 'meta'), key(uid, 'labelof'), key(uid, 'info'), key(uid, 'vectors'), key(uid, 'order'), key(uid, 'labels')}
  for _, label in ipairs(redis.call('HKEYS', key(uid, 'labels'))) do keys[#keys + 1] = key(uid, 'label:' .. label) end
  return keys
end
local function bump(uid, name, now)
  local version = redis.call('HINCRBY', key(uid, 'meta'), 'version', 1)
  redis.call('HSET', key(uid, 'meta'), 'updated_at', now)
  redis.call('HSET', KEYS[2], name, uid .. ':' .. version)
end
-- Stores one example unless its photo is in the set already; returns the label it is stored under then.
local function addOne(uid, sha, label, info, vector)
  local existing = redis.call('HGET', key(uid, 'labelof'), sha)
  if existing then return existing end
  local seq = redis.call('HINCRBY', key(uid, 'meta'), 'seq', 1)
  redis.call('HSET', key(uid, 'labelof'), sha, label)
  redis.call('HSET', key(uid, 'info'), sha, info)
  redis.call('HSET', key(uid, 'vectors'), sha, vector)
  redis.call('ZADD', key(uid, 'order'), seq, sha)
  redis.call('SADD', key(uid, 'label:' .. label), sha)
  redis.call('HINCRBY', key(uid, 'labels'), label, 1)
  return false
end
`;

/** ARGV: prefix, uid, ttl seconds, then (sha, label, info, vector) fours. Builds a set aside, expiring unless committed. */
export const STAGE = `${PRELUDE}
local uid, ttl = ARGV[2], tonumber(ARGV[3])
for i = 4, #ARGV, 4 do addOne(uid, ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]) end
for _, k in ipairs(keysOf(uid)) do redis.call('EXPIRE', k, ttl) end
return redis.call('HGET', key(uid, 'meta'), 'seq') or 0
`;

/**
 * ARGV: prefix, name, uid, replace ("1"/"0"), then meta field/value pairs. Makes the staged uid
 * the set called name, in one step: the old set (if replacing) is gone at the same moment.
 */
export const COMMIT = `${PRELUDE}
local name, uid, replace = ARGV[2], ARGV[3], ARGV[4] == '1'
local old = redis.call('HGET', KEYS[1], name)
if old and not replace then return 'exists' end
if old then for _, k in ipairs(keysOf(old)) do redis.call('UNLINK', k) end end
for i = 5, #ARGV, 2 do redis.call('HSET', key(uid, 'meta'), ARGV[i], ARGV[i + 1]) end
redis.call('HSET', key(uid, 'meta'), 'version', 1)
for _, k in ipairs(keysOf(uid)) do redis.call('PERSIST', k) end
redis.call('HSET', KEYS[1], name, uid)
redis.call('HSET', KEYS[2], name, uid .. ':1')
return 'ok'
`;

/**
 * ARGV: prefix, name, model sha256, now, model id, dim, then (sha, label, info, vector) fours. A set
 * without a model (empty model_sha256) takes this one and dim with its first examples.
 */
export const ADD = `${PRELUDE}
local name, sha256, now, modelId, dim = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local uid = redis.call('HGET', KEYS[1], name)
if not uid then return {'not_found'} end
local model = redis.call('HMGET', key(uid, 'meta'), 'model_id', 'model_sha256', 'dim')
if model[2] == '' or not model[2] then
  if #ARGV >= 7 then redis.call('HSET', key(uid, 'meta'), 'model_id', modelId, 'model_sha256', sha256, 'dim', dim) end
elseif model[2] ~= sha256 then return {'model_mismatch', model[1], model[2]}
elseif model[3] ~= dim then return {'dim_mismatch', model[3]} end
local added, duplicates = 0, {}
for i = 7, #ARGV, 4 do
  local existing = addOne(uid, ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3])
  if existing then
    duplicates[#duplicates + 1] = tostring((i - 7) / 4)
    duplicates[#duplicates + 1] = existing
  else
    added = added + 1
  end
end
if added > 0 then bump(uid, name, now) end
local reply = {'ok', tostring(added)}
for _, v in ipairs(duplicates) do reply[#reply + 1] = v end
return reply
`;

/** ARGV: prefix, name, label, now. Returns the count removed, or an error word. */
export const REMOVE_LABEL = `${PRELUDE}
local name, label, now = ARGV[2], ARGV[3], ARGV[4]
local uid = redis.call('HGET', KEYS[1], name)
if not uid then return 'not_found' end
local members = redis.call('SMEMBERS', key(uid, 'label:' .. label))
if #members == 0 then return 'label_not_found' end
for _, sha in ipairs(members) do
  redis.call('HDEL', key(uid, 'labelof'), sha)
  redis.call('HDEL', key(uid, 'info'), sha)
  redis.call('HDEL', key(uid, 'vectors'), sha)
  redis.call('ZREM', key(uid, 'order'), sha)
end
redis.call('DEL', key(uid, 'label:' .. label))
redis.call('HDEL', key(uid, 'labels'), label)
bump(uid, name, now)
return tostring(#members)
`;

/** ARGV: prefix, name. */
export const REMOVE = `${PRELUDE}
local name = ARGV[2]
local uid = redis.call('HGET', KEYS[1], name)
if not uid then return 'not_found' end
for _, k in ipairs(keysOf(uid)) do redis.call('UNLINK', k) end
redis.call('HDEL', KEYS[1], name)
redis.call('HDEL', KEYS[2], name)
return 'ok'
`;

/** ARGV: prefix, name, threshold ("" for none), now. */
export const SET_THRESHOLD = `${PRELUDE}
local name, threshold, now = ARGV[2], ARGV[3], ARGV[4]
local uid = redis.call('HGET', KEYS[1], name)
if not uid then return 'not_found' end
redis.call('HSET', key(uid, 'meta'), 'threshold', threshold)
bump(uid, name, now)
return 'ok'
`;

/** ARGV: prefix, name. {meta pairs, labels pairs, uid} of one set, or {} when there is none. */
export const SUMMARY = `${PRELUDE}
local uid = redis.call('HGET', KEYS[1], ARGV[2])
if not uid then return {} end
return {redis.call('HGETALL', key(uid, 'meta')), redis.call('HGETALL', key(uid, 'labels')), uid}
`;
