-- wrk script for bench/: optional per-request account tokens and a JSON report on stdout.
-- Arguments after "--": tokens_file (empty = plain GET), thread_count, quota (answers per thread, 0 = none),
-- marker prefix, body file (optional: a JSON body sent with every POST). A line of the tokens file is
-- "<token>" or "<token> <path>" (the request goes to that path instead of the URL's). With a tokens file, each request is a POST carrying the next unused token of this
-- thread's share, so every request is made by a different account. A thread that has had `quota` answers
-- writes "<marker prefix><thread id>" and carries on; bench/common.py stops wrk (SIGINT) once every thread
-- has written its marker, so all threads keep the same load until the end (wrk's own thread:stop() would
-- leave half-open connections holding the server's sync workers, and wrk would still wait for -d).

local threads = {}
local next_id = 0

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

function init(args)
   tokens = {}
   sent = 0
   answers = 0
   quota = tonumber(args[3] or "0") or 0
   marker = args[4] or ""
   s200, s401, s404, s409, s410, s429, s5xx, sother = 0, 0, 0, 0, 0, 0, 0, 0
   local file = args[1] or ""
   body = ""
   if (args[5] or "") ~= "" then
      local f = io.open(args[5], "r")
      body = f:read("*a")
      f:close()
   end
   local nthreads = tonumber(args[2] or "1") or 1
   if file ~= "" then
      local i = 0
      for line in io.lines(file) do
         if i % nthreads == id then
            table.insert(tokens, line)
         end
         i = i + 1
      end
   end
end

function request()
   if #tokens == 0 then
      return wrk.format("GET", wrk.path)
   end
   sent = sent + 1
   local line = tokens[((sent - 1) % #tokens) + 1]
   local token, path = line:match("^(%S+)%s+(%S+)$")
   if token == nil then token, path = line, wrk.path end
   local headers = {["Authorization"] = "Token " .. token}
   if body ~= "" then headers["Content-Type"] = "application/json" end
   return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
   answers = answers + 1
   if status == 200 then s200 = s200 + 1
   elseif status == 401 then s401 = s401 + 1
   elseif status == 404 then s404 = s404 + 1
   elseif status == 409 then s409 = s409 + 1
   elseif status == 410 then s410 = s410 + 1
   elseif status == 429 then s429 = s429 + 1
   elseif status >= 500 then s5xx = s5xx + 1
   else sother = sother + 1 end
   if quota > 0 and answers == quota and marker ~= "" then
      local f = io.open(marker .. id, "w")
      f:write(tostring(sent))
      f:close()
   end
end

function done(summary, latency, requests)
   local c = {s200 = 0, s401 = 0, s404 = 0, s409 = 0, s410 = 0, s429 = 0, s5xx = 0, sother = 0}
   local sent_total = 0
   for _, thread in ipairs(threads) do
      for k, _ in pairs(c) do
         c[k] = c[k] + (thread:get(k) or 0)
      end
      sent_total = sent_total + (thread:get("sent") or 0)
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests": %d, "sent": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, '
      .. '"max_us": %d, "statuses": {"200": %d, "401": %d, "404": %d, "409": %d, "410": %d, "429": %d, '
      .. '"5xx": %d, "other": %d}, "errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}}\n',
      summary.requests, sent_total, summary.duration, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, c.s200, c.s401, c.s404, c.s409, c.s410, c.s429, c.s5xx, c.sother,
      e.connect, e.read, e.write, e.timeout))
end
