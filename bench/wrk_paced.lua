-- wrk script of bench/load_run.py: raw HTTP requests from a file, paced to a rate.
--
--   wrk -t1 -cN -dS -s bench/wrk_paced.lua URL -- REQUESTS_FILE RATE_PER_THREAD RESULT_FILE
--
-- REQUESTS_FILE holds whole HTTP/1.1 requests separated by NUL bytes; each thread sends them
-- in turn (thread k of n starts at the k-th). RATE_PER_THREAD 0 sends unpaced. wrk calls
-- delay() before each request after a connection's first: it returns the milliseconds until
-- the thread's next free slot (start + slot / rate), so the thread's requests leave at the
-- rate whenever a connection is free. RESULT_FILE gets wrk's counts and latency percentiles
-- as JSON (microseconds), and the answers by status.
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } paced_timespec;
  int clock_gettime(int clock, paced_timespec *ts);
]]
local clock = ffi.new("paced_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end

local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("index", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

local requests = {}
local next_request = 0
local interval = 0
local started = nil
local slot = 0
statuses = {}

function init(args)
  local file = assert(io.open(args[1], "rb"))
  local data = file:read("*a")
  file:close()
  for request in string.gmatch(data, "([^%z]+)") do
    requests[#requests + 1] = request
  end
  local rate = tonumber(args[2])
  if rate > 0 then
    interval = 1000 / rate
  end
  next_request = index or 0
end

function request()
  next_request = next_request % #requests + 1
  return requests[next_request]
end

function delay()
  if interval == 0 then
    return 0
  end
  local now = now_ms()
  if started == nil then
    started = now
  end
  slot = slot + 1
  local wait = started + slot * interval - now
  if wait < 0 then
    return 0
  end
  return wait
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests_seen)
  local by_status = {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses")
    for status, count in pairs(counts) do
      by_status[tostring(status)] = (by_status[tostring(status)] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(by_status) do
    parts[#parts + 1] = string.format('"%s": %d', status, count)
  end
  local errors = summary.errors
  local out = assert(io.open(wrk_result_file or os.getenv("WRK_RESULT"), "w"))
  out:write(string.format(
    '{"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50": %d, "p95": %d, "p99": %d, "max": %d, ' ..
    '"statuses": {%s}}\n',
    summary.requests, summary.duration, errors.connect, errors.read, errors.write,
    errors.status, errors.timeout, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, table.concat(parts, ", ")))
  out:close()
end
