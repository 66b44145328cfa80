-- wrk reporter shared by every scenario: at the end of a run, print ONE line of
-- JSON that bench/http/run.py parses (the only line of wrk's output starting '{').
--
-- Units are wrk's own: durations and latencies in microseconds.
--
-- Counting: `requests` counts responses. With pipelining wrk counts each of the
-- N responses in a batch, but records ONE latency sample per batch (first request
-- written to last response read), so pipelined latencies are per batch.
--
-- Latency: before calling done(), wrk "corrects" its histogram for coordinated
-- omission: with E = duration / (requests / connections), every sample n >= 2E
-- also adds one synthetic sample at n-E, n-2E, ... down to just above E. That
-- models an open-loop client, which wrk is not, and it breaks with pipelining:
-- requests are counted 16 per sample, so E is 16 times too small, synthetic
-- samples land below the recorded minimum where percentile() never looks, and
-- p99 comes out as 0. The correction is exactly invertible, so we undo it and
-- report the latencies that were actually measured.
--
-- Two things make that possible. E needs the connection count, which done()
-- cannot see: the harness passes it in $WRK_CONNECTIONS. And wrk 4.1's Lua API
-- has no raw histogram access (latency(i) is O(range) per call), so we read wrk's
-- `stats` struct, {u64 count, limit, min, max, data[]}, through LuaJIT's FFI,
-- after checking that its min and max agree with the API's. If either is
-- missing, we report wrk's corrected figures and say so ("co_corrected": true).

local ffi_ok, ffi = pcall(require, "ffi")

-- wrk's histogram as a uint64_t array (count, limit, min, max, data...), or nil
-- when the memory does not look like the struct we expect.
local function raw_stats(latency)
   if not ffi_ok then return nil end
   local ok, s = pcall(function() return ffi.cast("uint64_t **", latency)[0] end)
   if not ok or s == nil then return nil end
   local limit, min, max = tonumber(s[1]), tonumber(s[2]), tonumber(s[3])
   if min ~= latency.min or max ~= latency.max or limit <= max then return nil end
   return s
end

-- Removes wrk's synthetic samples; returns histogram (value -> count) and count.
-- Every value above E received one synthetic sample per real sample at value+kE
-- (k >= 1), and real samples are never below wrk's recorded minimum, so walking
-- down from the maximum, the real count is the recorded count minus the real
-- counts already seen in the same residue class modulo E.
local function measured_histogram(s, e)
   local hist, total, above = {}, 0, {}
   local min, max = tonumber(s[2]), tonumber(s[3])
   for n = max, min, -1 do
      local count = tonumber(s[4 + n])
      if e and e > 0 and n > e then
         local r = n % e
         count = count - (above[r] or 0)
         above[r] = (above[r] or 0) + count
      end
      if count > 0 then
         hist[n] = count
         total = total + count
      end
   end
   return hist, total, min, max
end

-- The smallest value with at least p% of the samples at or below it.
local function percentiles(hist, total, min, max, ps)
   local out, seen, i = {}, 0, 1
   for n = min, max do
      seen = seen + (hist[n] or 0)
      while i <= #ps and seen >= math.ceil(ps[i] / 100 * total) do
         out[i] = n
         i = i + 1
      end
      if i > #ps then break end
   end
   return out
end

function done(summary, latency, requests)
   local connections = tonumber(os.getenv("WRK_CONNECTIONS") or "")
   local s = connections and raw_stats(latency)
   local p50, p90, p99, mean
   if s then
      local e  -- the same integer arithmetic as wrk's main()
      if summary.requests >= connections then
         e = math.floor(summary.duration / math.floor(summary.requests / connections))
      end
      local hist, total, min, max = measured_histogram(s, e)
      local ps = percentiles(hist, total, min, max, {50, 90, 99})
      p50, p90, p99 = ps[1] or 0, ps[2] or 0, ps[3] or 0
      local sum = 0
      for n, count in pairs(hist) do sum = sum + n * count end
      mean = total > 0 and sum / total or 0
   else
      p50, p90, p99 = latency:percentile(50), latency:percentile(90), latency:percentile(99)
      mean = latency.mean
   end
   local err = summary.errors
   io.write(string.format(
      '{"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f},"co_corrected":%s}\n',
      summary.requests, summary.duration, summary.bytes,
      err.connect, err.read, err.write, err.status, err.timeout,
      p50, p90, p99, latency.max, mean, tostring(s == nil)))
end
