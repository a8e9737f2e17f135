-- One POST /graphql per request for wrk. Settings come from the environment:
--   BENCH_BODY     the JSON body
--   BENCH_TOKEN    a bearer token (optional)
--   BENCH_EXPECT   text every good answer contains
-- An answer without BENCH_EXPECT, with "errors", or not 200 counts as an error.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  errors = 0
  body = os.getenv("BENCH_BODY")
  expect = os.getenv("BENCH_EXPECT") or ""
  headers = { ["Content-Type"] = "application/json" }
  local token = os.getenv("BENCH_TOKEN")
  if token and token ~= "" then
    headers["Authorization"] = "Bearer " .. token
  end
  fixed = wrk.format("POST", "/graphql", headers, body)
end

function request()
  return fixed
end

function response(status, hdrs, answer)
  if status ~= 200 or not answer:find(expect, 1, true) or answer:find('"errors"', 1, true) then
    errors = errors + 1
  end
end

function done(summary, latency, requests)
  local failed = 0
  for _, thread in ipairs(threads) do
    failed = failed + thread:get("errors")
  end
  io.write(string.format(
    'BENCH {"requests": %d, "seconds": %.6f, "p50": %.3f, "p99": %.3f, "errors": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    failed + summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout
  ))
end
