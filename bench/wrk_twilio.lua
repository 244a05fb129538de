-- wrk_twilio.lua - posts pre-signed Twilio webhooks, each once per thread, cycling if the run outlasts them.
local reqs = {}
for line in io.lines(os.getenv("WA_BENCH_REQUESTS")) do
  local tab = line:find("\t", 1, true)
  reqs[#reqs + 1] = { line:sub(tab + 1), line:sub(1, tab - 1) }
end
local i = 0
local nthreads = 0
function setup(thread)
  thread:set("offset", nthreads)
  nthreads = nthreads + 1
end
function init(args)
  i = offset or 0
end
request = function()
  i = i + 1
  -- Threads take interleaved slices so two threads never send the same MessageSid at once.
  local r = reqs[((i * 2 + (offset or 0)) % #reqs) + 1]
  return wrk.format("POST", "/api/whatsapp/twilio",
    { ["Content-Type"] = "application/x-www-form-urlencoded", ["X-Twilio-Signature"] = r[2] }, r[1])
end
local statuses = {}
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
done = function(summary, latency, requests)
  io.write(string.format("requests=%d errors_connect=%d errors_read=%d errors_status=%d timeouts=%d\n",
    summary.requests, summary.errors.connect, summary.errors.read, summary.errors.status, summary.errors.timeout))
  io.write(string.format("latency_us p50=%d p99=%d max=%d\n", latency:percentile(50), latency:percentile(99), latency.max))
end
