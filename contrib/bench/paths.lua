-- wrk script of contrib/bench/run.sh: which paths to request, and one machine-readable line
-- of results at the end.
--
--   wrk ... -s paths.lua URL -- random PREFIX COUNT [SUFFIX]
--       PREFIX .. n .. SUFFIX with n drawn uniformly from 0 .. COUNT-1 for every request
--   wrk ... -s paths.lua URL -- seq PREFIX COUNT [SUFFIX]
--       n = 0, 1, 2, ... COUNT-1, then again from 0 (fills a cache with COUNT entries)
--   wrk ... -s paths.lua URL -- unique PREFIX [SUFFIX]
--       n = 0, 1, 2, ... never repeated (PREFIX should hold a run id): every request a miss
--
-- At the end it prints
--   RESULT requests=N duration_us=N p50_us=N p99_us=N errors=N
-- where errors counts connect, read, write and timeout errors and non-2xx/3xx answers.
-- The run script uses wrk -t1, so the counter is not shared between threads.

local mode, prefix, count, suffix
local n = 0

function init(args)
	mode = args[1] or "random"
	prefix = args[2] or "/"
	if mode == "unique" then
		suffix = args[3] or ""
	else
		count = tonumber(args[3] or "1000")
		suffix = args[4] or ""
	end
	math.randomseed(os.time())
end

function request()
	local i
	if mode == "random" then
		i = math.random(0, count - 1)
	elseif mode == "seq" then
		i = n % count
		n = n + 1
	else
		i = n
		n = n + 1
	end
	return wrk.format("GET", prefix .. i .. suffix)
end

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d\n",
		summary.requests, summary.duration, latency:percentile(50),
		latency:percentile(99), e.connect + e.read + e.write + e.timeout + e.status))
end
