-- wrk script of contrib/soak.sh: random paths over a key space, a few of them faults on
-- purpose, and the answers counted by class at the end.
--
--   wrk ... -s soak.lua URL -- KEYS SIZE
--
-- Per request, with n drawn uniformly from 0 .. KEYS-1:
--   98.5%  /ok/n?size=SIZE&cc=max-age%3D30      must be 200
--   0.5%   /slow?n=n&delay_ms=3000             the origin answers after timeout_ms: 504
--   0.5%   /trunc?n=n&size=SIZE&truncate=1     the origin cuts its body short: 502
--   0.5%   /err?n=n&status=503                 the origin's own 503, passed through
-- At the end:
--   SENT ok=N slow=N trunc=N err=N          requests sent per class
--   STATUS status_200=N status_502=N ...    answers per status
--   SOCKET connect=N read=N write=N timeout=N
--   RESULT requests=N p50_us=N p99_us=N

local keys, size
local threads = {}

function setup(thread)
	table.insert(threads, thread)
	thread:set("id", #threads)
end

function init(args)
	keys = tonumber(args[1] or "10000")
	size = args[2] or "16000"
	-- each thread has a Lua state of its own: seeded alike, they would send the same
	-- sequence (and collapse on each other's requests)
	math.randomseed(os.time() * 1000 + id * 7919)
	counts = {}
	sent = {}
end

function request()
	local n = math.random(0, keys - 1)
	local r = math.random()
	local class, path
	if r < 0.005 then
		class, path = "slow", "/slow?n=" .. n .. "&delay_ms=3000"
	elseif r < 0.010 then
		class, path = "trunc", "/trunc?n=" .. n .. "&size=" .. size .. "&truncate=1"
	elseif r < 0.015 then
		class, path = "err", "/err?n=" .. n .. "&status=503"
	else
		class, path = "ok", "/ok/" .. n .. "?size=" .. size .. "&cc=max-age%3D30"
	end
	sent[class] = (sent[class] or 0) + 1
	return wrk.format("GET", path)
end

function response(status, headers, body)
	local key = "status_" .. status
	counts[key] = (counts[key] or 0) + 1
end

-- sums a table of every thread
local function sum(name)
	local total = {}
	for _, t in ipairs(threads) do
		for k, v in pairs(t:get(name)) do
			total[k] = (total[k] or 0) + v
		end
	end
	return total
end

function done(summary, latency, requests)
	local total = sum("counts")
	local sent_total = sum("sent")
	io.write(string.format("SENT ok=%d slow=%d trunc=%d err=%d\n", sent_total.ok or 0,
		sent_total.slow or 0, sent_total.trunc or 0, sent_total.err or 0))
	local keys_sorted = {}
	for k in pairs(total) do table.insert(keys_sorted, k) end
	table.sort(keys_sorted)
	local line = "STATUS"
	for _, k in ipairs(keys_sorted) do
		line = line .. " " .. k .. "=" .. total[k]
	end
	io.write(line .. "\n")
	local e = summary.errors
	io.write(string.format("SOCKET connect=%d read=%d write=%d timeout=%d\n",
		e.connect, e.read, e.write, e.timeout))
	io.write(string.format("RESULT requests=%d p50_us=%d p99_us=%d\n", summary.requests,
		latency:percentile(50), latency:percentile(99)))
end
