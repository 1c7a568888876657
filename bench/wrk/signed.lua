-- wrk script for schemes that sign the delivery id and a timestamp with the body (Svix, Standard Webhooks):
-- every request is signed ahead, one by one, and sent once.
-- Usage: wrk -s signed.lua URL -- <bodies file> <signed file> <wrk threads>
-- bodies: one compact JSON body per line. signed: `<body line, from 0><TAB><id><TAB><timestamp><TAB><signature>`
-- per request. Thread t of T sends lines t, t+T, t+2T, ... (past its last line it starts again: the harness
-- signs more lines than a run can send). done() (summary.lua) prints one JSON line: counts, percentiles.

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "") .. "summary.lua")

function init(args)
  local bodies = {}
  for line in io.lines(args[1]) do
    table.insert(bodies, line)
  end
  local stride = tonumber(args[3])
  signed = {}
  local n = 0
  for line in io.lines(args[2]) do
    if n % stride == id - 1 then
      local body, msg_id, timestamp, signature = line:match("^(%d+)\t([^\t]*)\t([^\t]*)\t(.*)$")
      table.insert(signed, { body = bodies[tonumber(body) + 1], id = msg_id, ts = timestamp, sig = signature })
    end
    n = n + 1
  end
  sent = 0
end

function request()
  sent = sent + 1
  local r = signed[(sent - 1) % #signed + 1]
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["svix-id"] = r.id,
    ["svix-timestamp"] = r.ts,
    ["svix-signature"] = r.sig,
  }, r.body)
end

function response(status, headers, body)
  count(status >= 200 and status < 300)
end
