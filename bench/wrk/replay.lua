-- wrk script: cycle through a corpus of pre-signed GitHub requests, each with its own delivery id.
-- Usage: wrk -s replay.lua URL -- <corpus file> <run id> <accepted-ids dir>
-- Each thread writes the ids answered 202 to <dir>/accepted-<thread>.txt, so the harness can check every
-- one of them is in Kafka; done() (summary.lua) prints one JSON line with the counts and latency percentiles.

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "summary.lua")

function init(args)
  corpus, run_id, out_dir = args[1], args[2], args[3]
  requests = {}
  for line in io.lines(corpus) do
    local event, sig, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
    table.insert(requests, { event = event, sig = sig, body = body })
  end
  counter = 0
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
  count(status == 202)
  if status == 202 then
    out:write(body:match('"id":"([^"]+)"') or "?", "\n")
  end
end
