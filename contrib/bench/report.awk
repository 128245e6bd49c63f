# contrib/bench/report.awk: the hit benchmark's table, tiercache's ratios and issue 7's targets,
# from the raw lines of run.sh (one per wrk run, tab-separated):
#   round target size conns rps p50_us p99_us cpu_us_per_req errors [client_cpu_us_per_req]
# Medians over the rounds of each (target, size, connections). POSIX awk (mawk is enough).

BEGIN { FS = "\t" }

function median(key, field,    n, i, j, v, t) {
	n = cnt[key]
	for (i = 1; i <= n; i++)
		v[i] = val[key, field, i] + 0
	for (i = 2; i <= n; i++) { # insertion sort: a handful of rounds
		t = v[i]
		for (j = i - 1; j >= 1 && v[j] > t; j--)
			v[j + 1] = v[j]
		v[j + 1] = t
	}
	if (n % 2)
		return v[(n + 1) / 2]
	return (v[n / 2] + v[n / 2 + 1]) / 2
}

{
	key = $2 SUBSEP $3 SUBSEP $4
	i = ++cnt[key]
	val[key, "rps", i] = $5
	val[key, "p50", i] = $6
	val[key, "p99", i] = $7
	val[key, "cpu", i] = $8
	err[key] += $9
	val[key, "client", i] = $10 + 0 # 0 in raw files from before the column
	if ($1 > rounds)
		rounds = $1
}

function m(t, s, c, f) { return median(t SUBSEP s SUBSEP c, f) }

function verdict(ok) { return ok ? "met" : "MISSED" }

END {
	ntargets = split("tiercache nginx varnish ceiling baseline", targets, " ")
	nsizes = split("1k 64k", sizes, " ")
	nconns = split("50 200", conns, " ")
	printf "Hit benchmark (medians of %d rounds)\n", rounds
	printf "%-5s %5s  %-10s %10s %9s %9s %12s %7s %14s\n", "body", "conns", "target", "req/s",
	       "p50 us", "p99 us", "cpu us/req", "errors", "client us/req"
	for (a = 1; a <= nsizes; a++)
		for (b = 1; b <= nconns; b++)
			for (k = 1; k <= ntargets; k++) {
				t = targets[k]; s = sizes[a]; c = conns[b]
				if (!((t SUBSEP s SUBSEP c) in cnt))
					continue
				printf "%-5s %5s  %-10s %10.0f %9.0f %9.0f %12.2f %7d %14.2f\n", s, c, t,
				       m(t, s, c, "rps"), m(t, s, c, "p50"), m(t, s, c, "p99"),
				       m(t, s, c, "cpu"), err[t SUBSEP s SUBSEP c], m(t, s, c, "client")
			}
	print ""
	print "tiercache's ratios (req/s of tiercache / req/s of the other; cpu per request)"
	printf "%-5s %5s  %10s %10s %10s %12s %12s %12s %14s\n", "body", "conns", "/ nginx",
	       "/ varnish", "/ ceiling", "cpu us/req", "nginx cpu", "ceiling cpu", "p99 vs nginx"
	for (a = 1; a <= nsizes; a++)
		for (b = 1; b <= nconns; b++) {
			s = sizes[a]; c = conns[b]
			tc = m("tiercache", s, c, "rps")
			if (tc == 0)
				continue
			rn = m("nginx", s, c, "rps"); rv = m("varnish", s, c, "rps")
			rc = m("ceiling", s, c, "rps")
			ratio_n[s, c] = rn ? tc / rn : 0
			ratio_v[s, c] = rv ? tc / rv : 0
			ratio_c[s, c] = rc ? tc / rc : 0
			cpu[s, c] = m("tiercache", s, c, "cpu")
			p99[s, c] = m("tiercache", s, c, "p99")
			p99n[s, c] = m("nginx", s, c, "p99")
			printf "%-5s %5s  %9.2fx %9.2fx %9.0f%% %12.2f %12.2f %12.2f %7.0f / %-6.0f\n",
			       s, c, ratio_n[s, c], ratio_v[s, c], 100 * ratio_c[s, c], cpu[s, c],
			       m("nginx", s, c, "cpu"), m("ceiling", s, c, "cpu"), p99[s, c], p99n[s, c]
		}
	nbase = 0
	for (a = 1; a <= nsizes; a++)
		for (b = 1; b <= nconns; b++) {
			s = sizes[a]; c = conns[b]
			if (!(("baseline" SUBSEP s SUBSEP c) in cnt) || m("tiercache", s, c, "rps") == 0)
				continue
			if (nbase++ == 0) {
				print ""
				print "tiercache against the baseline build (run.sh --baseline; same configuration, same rounds)"
				printf "%-5s %5s  %12s %12s %14s %14s\n", "body", "conns", "/ baseline",
				       "cpu us/req", "baseline cpu", "cpu ratio"
			}
			bc = m("baseline", s, c, "cpu")
			printf "%-5s %5s  %11.2fx %12.2f %14.2f %13.2fx\n", s, c,
			       m("tiercache", s, c, "rps") / m("baseline", s, c, "rps"),
			       m("tiercache", s, c, "cpu"), bc, bc ? m("tiercache", s, c, "cpu") / bc : 0
		}
	print ""
	print "Targets of issue 7"
	for (b = 1; b <= nconns; b++) {
		c = conns[b]
		if (!(("1k", c) in ratio_n))
			continue
		printf "1 KiB, %3s conns: >= 1.5x nginx: %.2fx %s; >= 2x varnish: %.2fx %s; >= 85%% of ceiling: %.0f%% %s; cpu <= 12 us: %.2f %s; p99 <= nginx's: %s\n",
		       c, ratio_n["1k", c], verdict(ratio_n["1k", c] >= 1.5), ratio_v["1k", c],
		       verdict(ratio_v["1k", c] >= 2), 100 * ratio_c["1k", c],
		       verdict(ratio_c["1k", c] >= 0.85), cpu["1k", c], verdict(cpu["1k", c] <= 12),
		       verdict(p99["1k", c] <= p99n["1k", c])
	}
	for (b = 1; b <= nconns; b++) {
		c = conns[b]
		if (!(("64k", c) in ratio_n))
			continue
		printf "64 KiB, %3s conns: >= 1.1x nginx: %.2fx %s; >= 90%% of ceiling: %.0f%% %s\n", c,
		       ratio_n["64k", c], verdict(ratio_n["64k", c] >= 1.1), 100 * ratio_c["64k", c],
		       verdict(ratio_c["64k", c] >= 0.9)
	}
}
