-- wrk script: cycle through a corpus of pre-signed GitHub requests, each with its own delivery id.
-- Usage: wrk -s replay.lua URL -- <corpus file> <run id> <accepted-ids dir>
-- Each thread writes the ids answered 202 to <dir>/accepted-<thread>.txt, so the harness can check every
-- one of them is in Kafka; done() prints one JSON line with the counts and latency percentiles.

local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  corpus, run_id, out_dir = args[1], args[2], args[3]
  requests = {}
  for line in io.lines(corpus) do
    local event, sig, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
    table.insert(requests, { event = event, sig = sig, body = body })
  end
  counter = 0
  accepted = 0
  refused = 0
  out = io.open(out_dir .. "/accepted-" .. id .. ".txt", "w")
end

function request()
  counter = counter + 1
  local r = requests[(counter % #requests) + 1]
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["X-GitHub-Event"] = r.event,
    ["X-Hub-Signature-256"] = r.sig,
    ["X-GitHub-Delivery"] = run_id .. "-" .. id .. "-" .. counter,
  }, r.body)
end

function response(status, headers, body)
  if status == 202 then
    accepted = accepted + 1
    out:write(body:match('"id":"([^"]+)"') or "?", "\n")
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
