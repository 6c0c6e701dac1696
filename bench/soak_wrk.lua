-- wrk script for the soak: mixed traffic over many keys, counting statuses.
-- Keys come from the file named by $SOAK_KEYS (one per line).
local keys = {}
for line in io.lines(os.getenv("SOAK_KEYS")) do keys[#keys + 1] = line end
local threads = {}
local n = 0

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  counts = { s2 = 0, s4 = 0, s429 = 0, s5 = 0, other = 0 }
  n = id * 7919
end

function request()
  n = n + 1
  local k = keys[(n % #keys) + 1]
  local r = n % 10
  if r == 0 then
    return wrk.format("GET", "/healthz")
  elseif r == 1 then
    return wrk.format("GET", "/books/", { ["Authorization"] = "00000000-0000-4000-8000-" .. string.format("%012d", n % 1000) })
  elseif r == 2 then
    return wrk.format("POST", "/books/", { ["Authorization"] = k, ["Content-Type"] = "application/json" },
      '{"title":"soak ' .. n .. '"}')
  elseif r == 3 then
    return wrk.format("GET", "/nope", {})
  else
    return wrk.format("GET", "/books/", { ["Authorization"] = k })
  end
end

function response(status, headers, body)
  if status == 429 then counts.s429 = counts.s429 + 1
  elseif status >= 500 then counts.s5 = counts.s5 + 1
  elseif status >= 400 then counts.s4 = counts.s4 + 1
  elseif status >= 200 and status < 300 then counts.s2 = counts.s2 + 1
  else counts.other = counts.other + 1 end
end

function done(summary, latency, requests)
  local t = { s2 = 0, s4 = 0, s429 = 0, s5 = 0, other = 0 }
  for _, thread in ipairs(threads) do
    local c = thread:get("counts")
    for k, v in pairs(c) do t[k] = t[k] + v end
  end
  io.write(string.format("SOAK_WRK {\"requests\":%d,\"2xx\":%d,\"4xx\":%d,\"429\":%d,\"5xx\":%d,\"other\":%d,\"errors\":%d,\"p50_us\":%d,\"p99_us\":%d}\n",
    summary.requests, t.s2, t.s4, t.s429, t.s5, t.other,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
