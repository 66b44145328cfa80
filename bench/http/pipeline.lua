-- wrk script: every write carries DEPTH pipelined `GET /bench` requests
-- (16 unless given as `wrk ... -s pipeline.lua URL -- DEPTH`).
--
-- wrk parses the string `request()` returns, learns it holds DEPTH requests, and
-- writes the next batch only after all DEPTH responses arrived. It counts every
-- response in `requests`, but takes one latency sample per batch.

-- The reporter lives next to this file; Lua knows this file's path from the
-- chunk's source name ("@path/to/pipeline.lua").
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "report.lua")

local batch

function init(args)
   local depth = tonumber(args[1]) or 16
   local requests = {}
   for i = 1, depth do
      requests[i] = wrk.format(nil, "/bench")
   end
   batch = table.concat(requests)
end

function request()
   return batch
end
