-- wrk script: POSTs pre-signed webhook deliveries (bench/README.md).
--
--   wrk -t2 -c32 -d10s --latency --timeout 10s -s bench/wrk/deliveries.lua \
--       http://127.0.0.1:PORT/webhooks -- DELIVERIES_FILE THREADS [DUP_SHARE] [SEED] [COUNT]
--
-- DELIVERIES_FILE: one delivery per line, "<hex signature>\t<body>" (webhook-bench-deliveries).
-- THREADS:   the same number as wrk's -t (init() cannot know it otherwise: wrk runs setup() and
--            init() of one thread before creating the next).
-- DUP_SHARE: share of requests that re-send an earlier delivery of the same thread (default 0.1).
-- SEED:      random seed (default 1), so runs pick the same re-sends.
-- COUNT:     "bodies" (default): response() reads every answer (see below); "codes": no
--            response() at all (init() removes it, and wrk then skips parsing headers and
--            bodies), so the load generator costs less; done() then knows only wrk's own counts:
--            non-2xx = answers with a status >= 400, the rest count as 200, and the
--            accepted / duplicate split and the distinct eventIds are reported as -1.
--
-- Every request is formatted once, in init(): request() only picks one (a Lua call per request
-- remains, wrk's cost of a dynamic request).
--
-- Thread k (0-based) takes lines k+1, k+1+THREADS, ... of the file: disjoint slices, so new
-- deliveries are unique across threads, and a re-send is always of a delivery this thread has
-- already sent. If a thread runs out of new deliveries it re-sends old ones; that is counted as
-- "exhausted" and printed, because it changes the duplicate share (make the file larger).
--
-- Start barrier: wrk runs init() of thread k+1 while thread k is already sending, and starts its
-- clock only after the last init(); loading a large file would give the first threads a head
-- start that inflates requests/s. So every thread's first real request waits until the last
-- thread has loaded its slice (a marker file the last init() creates). wrk also calls request()
-- once on thread 0 right after its init() to inspect the request; that call neither waits nor
-- consumes a delivery.
--
-- response() counts every status (200 bodies by their "status" member: accepted / duplicate /
-- quarantined; others by code and "error" member) and the distinct eventIds acknowledged.
-- done() gathers the per-thread counters through the thread objects kept in setup() (the
-- documented wrk pattern) and prints:
--   * a human-readable per-status table, and
--   * one machine-readable line "BENCH_SUMMARY key=value ..." for bench/run.sh and
--     bench/run_write_path.sh (p999_ms is wrk's latency:percentile(99.9)).

local threads = {}
local next_id = 0
local go_file_main = nil   -- main state: the start-barrier marker path, shared with every thread

function setup(thread)
  if not go_file_main then
    go_file_main = os.tmpname()   -- a unique name; remove the file so it marks nothing yet
    os.remove(go_file_main)
  end
  thread:set("go_file", go_file_main)
  thread:set("id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

-- ---- per-thread state (each wrk thread has its own Lua state) ------------------------------

local requests = {}       -- formatted requests of this thread's slice
local count = 0          -- deliveries in this thread's slice
local next_new = 1       -- next never-sent delivery
local dup_share = 0.1
local headers = {}
local thread_id = 0
count_mode = "bodies"    -- read by done() through thread:get()
local go_file = nil
local started = false       -- passed the start barrier
local inspected = false     -- wrk's one inspection call of request() on thread 0 happened

local has_ffi, ffi = pcall(require, "ffi")
if has_ffi then
  has_ffi = pcall(ffi.cdef, "int usleep(unsigned int usec);")
end

local function file_exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

-- Blocks this wrk thread until the last thread has finished init() (60 s at most).
local function wait_for_start()
  local t0 = os.time()
  while not file_exists(go_file) do
    if os.time() - t0 > 60 then error("deliveries.lua: start barrier timed out; is THREADS equal to -t?") end
    if has_ffi then ffi.C.usleep(200) end
  end
  started = true
end

-- Counters read by done() through thread:get(); plain globals of numbers / flat tables.
statuses = {}            -- "200 accepted" -> n, "503 ack_budget_exceeded" -> n, ...
sent_new = 0
sent_dup = 0
exhausted = 0
acked_distinct = 0       -- distinct eventIds seen in 200 responses of this thread
slice_size = 0
local seen_event = {}

local function arg(args, i)
  -- wrk passes the arguments after "--" as args[1..n] (some builds also fill args[0]).
  return args[i]
end

function init(args)
  local path = arg(args, 1)
  local nthreads = tonumber(arg(args, 2) or "")
  if not path or not nthreads or nthreads < 1 then
    error("deliveries.lua: usage: -- DELIVERIES_FILE THREADS [DUP_SHARE] [SEED]")
  end
  dup_share = tonumber(arg(args, 3) or "0.1")
  local seed = tonumber(arg(args, 4) or "1")
  count_mode = arg(args, 5) or "bodies"
  if count_mode ~= "bodies" and count_mode ~= "codes" then
    error("deliveries.lua: COUNT must be bodies or codes")
  end
  if count_mode == "codes" then
    response = nil   -- wrk checks for response() after thread 0's init()
  end
  thread_id = wrk.thread:get("id")
  go_file = wrk.thread:get("go_file")
  if thread_id >= nthreads then
    error("deliveries.lua: THREADS (" .. nthreads .. ") is smaller than wrk's -t")
  end
  math.randomseed(seed * 1000 + thread_id)

  -- One pass: keep every nthreads-th line, starting at line thread_id + 1.
  headers["Content-Type"] = "application/json"
  headers["User-Agent"] = "webhook-bench/1"
  local f = assert(io.open(path, "rb"))
  local n = 0
  for line in f:lines() do
    if n % nthreads == thread_id then
      local tab = line:find("\t", 1, true)
      if not tab then error("deliveries.lua: line " .. (n + 1) .. " has no tab") end
      count = count + 1
      headers["X-Webhook-Signature"] = line:sub(1, tab - 1)
      requests[count] = wrk.format("POST", nil, headers, line:sub(tab + 1))
    end
    n = n + 1
  end
  f:close()
  if count == 0 then error("deliveries.lua: no deliveries for thread " .. thread_id .. " in " .. path) end
  slice_size = count

  if thread_id == nthreads - 1 then
    local marker = assert(io.open(go_file, "wb"))
    marker:close()
  end
end

function request()
  if not started then
    if thread_id == 0 and not inspected then
      -- wrk's inspection call (see above): a valid request, nothing consumed or counted.
      inspected = true
      return requests[1]
    end
    wait_for_start()
  end
  local i
  if next_new > 1 and (next_new > count or math.random() < dup_share) then
    if next_new > count then exhausted = exhausted + 1 end
    i = math.random(1, next_new - 1)
    sent_dup = sent_dup + 1
  else
    i = next_new
    next_new = next_new + 1
    sent_new = sent_new + 1
  end
  return requests[i]
end

function response(status, _, body)
  local key
  if status == 200 then
    key = "200 " .. (body:match('"status"%s*:%s*"([^"]*)"') or "?")
    local event = body:match('"eventId"%s*:%s*(%d+)')
    if event and not seen_event[event] then
      seen_event[event] = true
      acked_distinct = acked_distinct + 1
    end
  else
    key = tostring(status) .. " " .. (body:match('"error"%s*:%s*"([^"]*)"') or "-")
  end
  statuses[key] = (statuses[key] or 0) + 1
end

-- ---- main Lua state: after the run ---------------------------------------------------------

function done(summary, latency, _)
  if go_file_main then os.remove(go_file_main) end
  local totals = {}
  local keys = {}
  local new, dup, exh, distinct, slices = 0, 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    new = new + (thread:get("sent_new") or 0)
    dup = dup + (thread:get("sent_dup") or 0)
    exh = exh + (thread:get("exhausted") or 0)
    distinct = distinct + (thread:get("acked_distinct") or 0)
    slices = slices + (thread:get("slice_size") or 0)
    local st = thread:get("statuses") or {}
    for k, v in pairs(st) do
      if not totals[k] then table.insert(keys, k) end
      totals[k] = (totals[k] or 0) + v
    end
  end
  table.sort(keys)

  local secs = summary.duration / 1e6
  local e = summary.errors
  local codes_only = #threads > 0 and threads[1]:get("count_mode") == "codes"
  local accepted, duplicate, quarantined = -1, -1, -1
  if codes_only then
    -- No response(): only wrk's own counts (a status >= 400 is an error to wrk).
    keys = { "2xx or 3xx (status < 400)", "status >= 400" }
    totals = { [keys[1]] = summary.requests - e.status, [keys[2]] = e.status }
    distinct = -1
  else
    accepted = totals["200 accepted"] or 0
    duplicate = totals["200 duplicate"] or 0
    quarantined = totals["200 quarantined"] or 0
  end

  local responses, ok200, non200 = 0, 0, 0
  for _, k in ipairs(keys) do
    responses = responses + totals[k]
    if k:sub(1, 4) == "200 " or k == "2xx or 3xx (status < 400)" then
      ok200 = ok200 + totals[k]
    else
      non200 = non200 + totals[k]
    end
  end

  io.write("---- deliveries.lua: responses by status ----\n")
  for _, k in ipairs(keys) do
    io.write(string.format("  %-32s %10d\n", k, totals[k]))
  end
  io.write(string.format("  %-32s %10d\n", "total responses", responses))
  if non200 > 0 then
    io.write(string.format("  WARNING: %d responses were not 200\n", non200))
  end
  io.write(string.format("  sent: %d new + %d re-sent (%.1f%% re-sends); slices hold %d deliveries\n",
                         new, dup, (new + dup) > 0 and 100 * dup / (new + dup) or 0, slices))
  if exh > 0 then
    io.write(string.format("  WARNING: threads ran out of new deliveries: %d extra re-sends (make the file larger)\n", exh))
  end
  io.write(string.format("  socket errors: connect %d, read %d, write %d, timeout %d; wrk non-2xx %d\n",
                         e.connect, e.read, e.write, e.timeout, e.status))
  io.write(string.format("  acknowledged distinct eventIds: %d; acked (200) per second: %.1f\n",
                         distinct, ok200 / secs))

  local function pct(p) return latency:percentile(p) / 1000 end  -- microseconds -> ms
  local parts = {}
  for _, k in ipairs(keys) do
    table.insert(parts, (k:gsub("[^%w]+", "_")) .. ":" .. totals[k])
  end
  local status_list = #parts > 0 and table.concat(parts, ",") or "none"
  io.write(string.format(
    "BENCH_SUMMARY requests=%d duration_s=%.3f rps=%.1f ok200=%d acked_rps=%.1f accepted=%d duplicate=%d " ..
    "quarantined=%d non200=%d acked_distinct=%d sent_new=%d sent_dup=%d exhausted=%d " ..
    "err_connect=%d err_read=%d err_write=%d err_timeout=%d err_status=%d " ..
    "p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f mean_ms=%.3f statuses=%s\n",
    summary.requests, secs, summary.requests / secs, ok200, ok200 / secs,
    accepted, duplicate, quarantined,
    non200, distinct, new, dup, exh,
    e.connect, e.read, e.write, e.timeout, e.status,
    pct(50), pct(90), pct(99), pct(99.9), latency.max / 1000, latency.mean / 1000, status_list))
end
