-- Shared by the bench's wrk scripts (loaded with `dofile` by each): numbering the threads, counting the
-- answers, and done(), which prints the one JSON line the harness reads (bench/load.py).

local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

accepted, refused = 0, 0

function count(ok)
  if ok then
    accepted = accepted + 1
  else
    refused = refused + 1
  end
end

function done(summary, latency, requests)
  local accepted_total, refused_total = 0, 0
  for _, thread in ipairs(threads) do
    accepted_total = accepted_total + thread:get("accepted")
    refused_total = refused_total + thread:get("refused")
  end
  io.write(string.format(
    '{"requests":%d,"accepted":%d,"refused":%d,"errors":%d,"duration_us":%d,'
      .. '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, accepted_total, refused_total,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
