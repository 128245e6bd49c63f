/*
 * policy_tinylfu: adaptive W-TinyLFU, after Caffeine's design (Einziger, Friedman and Manes,
 * "TinyLFU: A Highly Efficient Cache Admission Policy", and "Adaptive Software Cache
 * Management", Middleware 2018). Three LRU lists through node->prev/next, node->group naming
 * the list a node is on:
 *
 *   window     new nodes enter here; a small LRU that lets bursts of recent keys hit;
 *   probation  the main region's entrance; its tail is the main region's usual victim;
 *   protected  nodes hit while on probation (at most 80% of the main region); its overflow
 *              goes back to the head of probation.
 *
 * Admission: when the tier needs room and the window has none left for the arriving node,
 * the window's tail (the candidate) competes with the main region's victim: the one whose key
 * the frequency sketch (sketch.c; every insert and hit counted) estimates more popular stays,
 * the other is evicted; a tie keeps the main region's node, except that a candidate seen often
 * enough wins one time in 128 at random, so that an attacker who keeps a victim's count high
 * cannot shut all new keys out. The sketch hashes with a secret seed (policy_seed).
 *
 * Adaptation: a larger window behaves more like LRU (recency), a smaller one more like LFU
 * (frequency). Caffeine climbs on the hit ratio observed from one sample to the next; measured
 * on real traces, that signal is dominated by the traffic's own variation (the share
 * random-walks, worst on small caches). So the share is chosen by paired comparison instead:
 * six shadow caches, each a W-TinyLFU of a fixed share (1% to 100%) on nodes of its own (keys'
 * hashes only, no entries), replay the same requests, sampled by key hash down to about 1024
 * entries (SHARDS-style spatial sampling: a shadow of a big tier is the same cache scaled down,
 * sharing the tier's sketch). Every period (2 requests per entry, at least 500) the tier takes
 * the share of the shadow with the most hits, decayed over the past periods ("follow the
 * leader"). Cost: six shadow accesses per sampled request, O(1) each; memory: at most
 * 6 x 1280 nodes (under 1 MB).
 *
 * Sizes: every list counts entries and bytes; a region is over its share when either count
 * is, so the policy honours both of the tier's bounds (given by the limits callback). Every
 * callback is O(1): nodes move between lists at most a fixed few per call.
 *
 * Called only with the tier's mutex held (policy.h). The state, the sketch and the shadows'
 * nodes are allocated by create and limits (outside the lock) and freed by destroy; nothing
 * allocates or frees in between.
 */
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "sketch.h"
#include "util.h"

/* bytes of the smallest entry the tier stores: sizes the sketch of a byte-bounded tier */
#define TLFU_MIN_CHARGE 256
/* window share at start */
#define TLFU_INITIAL_SHARE 0.01
/* protected segment's share of the main region */
#define TLFU_PROTECTED_SHARE 0.80
/* a candidate at least this popular may win a tie at random (1 in TLFU_TIE_ODDS) */
#define TLFU_TIE_MIN_FREQ 6
#define TLFU_TIE_ODDS     128
/* nodes moved between regions at most per callback */
#define TLFU_MAX_MOVES 2

/* entries a shadow of a big tier holds, on average (its sampling rate is chosen for that) */
#define TLFU_SHADOW_ENTRIES 1024
/* requests between two choices of the window's share: per entry of capacity, and at least */
#define TLFU_PERIOD_PER_ENTRY 2
#define TLFU_PERIOD_MIN       500
/* weight of the past in a shadow's score, per period */
#define TLFU_SCORE_DECAY 0.75

/* the window shares the shadows try: 1.0 is LRU with nothing filtered */
static const double tlfu_shares[] = {0.01, 0.1, 0.25, 0.45, 0.7, 1.0};
#define TLFU_SHADOWS (sizeof(tlfu_shares) / sizeof(tlfu_shares[0]))

struct tlfu_list {
	struct local_node *head; /* most recently used */
	struct local_node *tail; /* least recently used */
	uint64_t entries;
	uint64_t bytes;
};

/* One W-TinyLFU cache: the tier's own, or a shadow's. */
struct tlfu_core {
	struct tlfu_list window;
	struct tlfu_list probation;
	struct tlfu_list protect;
	double max_entries; /* the bounds */
	double max_bytes;
	double share; /* the window's target share of the bounds, 0 to 1 */
	uint64_t admitted;
	uint64_t rejected;
};

/* A slot of a shadow's table: the node's pool index + 1 (0: empty) and its hash's low bits. */
struct tlfu_slot {
	uint32_t node;
	uint32_t low;
};

/* A sampled simulation of a core with a fixed window share, on nodes of its own. */
struct tlfu_shadow {
	struct tlfu_core core;
	struct local_node *pool; /* pool_size nodes */
	struct local_node *free; /* unused nodes, through next */
	struct tlfu_slot *slots; /* open addressing by hash, linear probing */
	uint64_t slot_mask;
	uint64_t hits; /* in this period */
	double score;  /* decayed hits of the past periods */
};

struct tlfu_state {
	struct tlfu_core core;
	struct sketch *sketch;
	uint64_t rng;
	double max_entries; /* the tier's bounds */
	double max_bytes;
	/* shadows */
	struct tlfu_shadow shadows[TLFU_SHADOWS];
	uint64_t pool_size;
	uint64_t sample_below; /* a key is sampled when hash >> 40 is below this */
	uint64_t capacity;     /* entries the sampling rate was chosen for */
	bool calibrated;       /* capacity measured on a full tier */
	uint64_t requests;     /* in this period */
	uint64_t period;
	uint64_t adaptations;
};

/* xorshift64*: the random choices of admission (seeded from policy_seed). */
static uint64_t
tlfu_random(struct tlfu_state *s)
{
	uint64_t x = s->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	s->rng = x;
	return x * UINT64_C(2685821657736338717);
}

static void
tlfu_push_head(struct tlfu_list *l, struct local_node *n)
{
	n->group = l;
	n->prev = NULL;
	n->next = l->head;
	if (l->head != NULL)
		l->head->prev = n;
	else
		l->tail = n;
	l->head = n;
	l->entries++;
	l->bytes += n->charge;
}

static void
tlfu_unlink(struct local_node *n)
{
	struct tlfu_list *l = n->group;

	TC_ASSERT(l != NULL && l->entries > 0 && l->bytes >= n->charge);
	if (n->prev != NULL)
		n->prev->next = n->next;
	else
		l->head = n->next;
	if (n->next != NULL)
		n->next->prev = n->prev;
	else
		l->tail = n->prev;
	n->prev = NULL;
	n->next = NULL;
	n->group = NULL;
	l->entries--;
	l->bytes -= n->charge;
}

/* Moves n to the head of list to (from whichever list it is on). */
static void
tlfu_move(struct tlfu_list *to, struct local_node *n)
{
	tlfu_unlink(n);
	tlfu_push_head(to, n);
}

/* True when the list holds more than share of either bound. */
static bool
tlfu_over(const struct tlfu_list *l, const struct tlfu_core *c, double share)
{
	return (double)l->entries > share * c->max_entries ||
	       (double)l->bytes > share * c->max_bytes;
}

/* True when one more node of charge bytes still fits in share of both bounds. */
static bool
tlfu_fits(const struct tlfu_list *l, const struct tlfu_core *c, double share, size_t charge)
{
	return (double)(l->entries + 1) <= share * c->max_entries &&
	       (double)(l->bytes + charge) <= share * c->max_bytes;
}

static bool
tlfu_main_over(const struct tlfu_core *c)
{
	double share = 1.0 - c->share;

	return (double)(c->probation.entries + c->protect.entries) > share * c->max_entries ||
	       (double)(c->probation.bytes + c->protect.bytes) > share * c->max_bytes;
}

static bool
tlfu_main_fits(const struct tlfu_core *c, size_t charge)
{
	double share = 1.0 - c->share;

	return (double)(c->probation.entries + c->protect.entries + 1) <= share * c->max_entries &&
	       (double)(c->probation.bytes + c->protect.bytes + charge) <= share * c->max_bytes;
}

static uint64_t
tlfu_entries(const struct tlfu_core *c)
{
	return c->window.entries + c->probation.entries + c->protect.entries;
}

static uint64_t
tlfu_bytes(const struct tlfu_core *c)
{
	return c->window.bytes + c->probation.bytes + c->protect.bytes;
}

/* The main region's next victim: probation's tail, else protected's, else NULL. */
static struct local_node *
tlfu_main_victim(const struct tlfu_core *c)
{
	return c->probation.tail != NULL ? c->probation.tail : c->protect.tail;
}

/* Demotes protected's least recent nodes to probation while protected is over its share. */
static void
tlfu_trim_protected(struct tlfu_core *c)
{
	double share = TLFU_PROTECTED_SHARE * (1.0 - c->share);

	for (int i = 0;
	     i < TLFU_MAX_MOVES && c->protect.tail != NULL && tlfu_over(&c->protect, c, share); i++)
		tlfu_move(&c->probation, c->protect.tail);
}

/*
 * Moves a few nodes so the regions follow the window's target: the window's overflow into
 * probation while the main region has room (a cache that is not full yet, or a window that
 * shrank), or the main region's least recent nodes into the window while the window has room
 * and the main region is over its share (a window that grew).
 */
static void
tlfu_rebalance(struct tlfu_core *c)
{
	for (int i = 0; i < TLFU_MAX_MOVES; i++) {
		struct local_node *n;

		if (c->window.tail != NULL && tlfu_over(&c->window, c, c->share) &&
		    tlfu_main_fits(c, c->window.tail->charge)) {
			tlfu_move(&c->probation, c->window.tail);
		} else if ((n = tlfu_main_victim(c)) != NULL && tlfu_main_over(c) &&
		           tlfu_fits(&c->window, c, c->share, n->charge)) {
			tlfu_move(&c->window, n);
		} else {
			break;
		}
	}
	tlfu_trim_protected(c);
}

/* A new node enters the core's window. */
static void
tlfu_core_inserted(struct tlfu_core *c, struct local_node *n)
{
	tlfu_push_head(&c->window, n);
	tlfu_rebalance(c);
}

/* A hit: most recent of its list; a hit on probation earns protection. */
static void
tlfu_core_touched(struct tlfu_core *c, struct local_node *n)
{
	struct tlfu_list *l = n->group;

	if (l == &c->probation) {
		tlfu_move(&c->protect, n);
		tlfu_trim_protected(c);
	} else if (l->head != n) {
		tlfu_move(l, n);
	}
}

/* True when the candidate should replace the main region's victim. */
static bool
tlfu_admit(struct tlfu_state *s, const struct local_node *candidate,
           const struct local_node *victim)
{
	unsigned fc = sketch_estimate(s->sketch, candidate->hash);
	unsigned fv = sketch_estimate(s->sketch, victim->hash);

	if (fc > fv)
		return true;
	return fc >= TLFU_TIE_MIN_FREQ && tlfu_random(s) % TLFU_TIE_ODDS == 0;
}

/*
 * True when the window has no room for the node about to arrive (the tier asks for victims
 * before it inserts): one more entry, or the window's average charge more bytes, would put
 * it over its share.
 */
static bool
tlfu_window_full(const struct tlfu_core *c)
{
	const struct tlfu_list *w = &c->window;

	if (w->entries == 0)
		return false;
	return (double)(w->entries + 1) > c->share * c->max_entries ||
	       (double)(w->bytes + w->bytes / w->entries) > c->share * c->max_bytes;
}

/*
 * The core's next victim: while the window has no room for the arriving node, the loser of
 * its tail against the main region's victim (a winning candidate moves to probation); else
 * the main region's victim; the window's tail when the main region is empty.
 */
static struct local_node *
tlfu_core_victim(struct tlfu_core *c, struct tlfu_state *s)
{
	struct local_node *candidate = c->window.tail;
	struct local_node *victim = tlfu_main_victim(c);

	if (victim == NULL)
		return candidate;
	if (candidate == NULL || !tlfu_window_full(c))
		return victim;
	if (tlfu_admit(s, candidate, victim)) {
		c->admitted++;
		tlfu_move(&c->probation, candidate);
		return victim;
	}
	c->rejected++;
	return candidate;
}

/* The shadow's node of hash h, or NULL (a slot's low hash bits spare most node reads). */
static struct local_node *
tlfu_shadow_find(const struct tlfu_shadow *sh, uint64_t h)
{
	for (uint64_t i = h & sh->slot_mask;; i = (i + 1) & sh->slot_mask) {
		const struct tlfu_slot *e = &sh->slots[i];

		if (e->node == 0)
			return NULL;
		if (e->low == (uint32_t)h && sh->pool[e->node - 1].hash == h)
			return &sh->pool[e->node - 1];
	}
}

static void
tlfu_shadow_add(struct tlfu_shadow *sh, struct local_node *n)
{
	uint64_t i = n->hash & sh->slot_mask;

	while (sh->slots[i].node != 0)
		i = (i + 1) & sh->slot_mask;
	sh->slots[i].node = (uint32_t)(n - sh->pool) + 1;
	sh->slots[i].low = (uint32_t)n->hash;
}

/* Takes n out of the shadow's table (backward-shift deletion keeps probes unbroken). */
static void
tlfu_shadow_del(struct tlfu_shadow *sh, const struct local_node *n)
{
	uint32_t v = (uint32_t)(n - sh->pool) + 1;
	uint64_t i = n->hash & sh->slot_mask, j;

	while (sh->slots[i].node != v)
		i = (i + 1) & sh->slot_mask;
	for (j = (i + 1) & sh->slot_mask; sh->slots[j].node != 0; j = (j + 1) & sh->slot_mask) {
		uint64_t home = sh->slots[j].low & sh->slot_mask;

		/* move j back to i unless its home lies cyclically in (i, j] */
		if (((j - home) & sh->slot_mask) >= ((j - i) & sh->slot_mask)) {
			sh->slots[i] = sh->slots[j];
			i = j;
		}
	}
	sh->slots[i].node = 0;
}

/* Empties a shadow and sets its bounds. */
static void
tlfu_shadow_reset(struct tlfu_state *s, struct tlfu_shadow *sh, double rate, double share)
{
	memset(&sh->core, 0, sizeof(sh->core));
	sh->core.share = share;
	sh->core.max_entries = rate * s->max_entries;
	if (sh->core.max_entries > (double)s->pool_size)
		sh->core.max_entries = (double)s->pool_size;
	sh->core.max_bytes = rate * s->max_bytes;
	memset(sh->slots, 0, (sh->slot_mask + 1) * sizeof(*sh->slots));
	sh->free = NULL;
	for (uint64_t i = s->pool_size; i-- > 0;) {
		sh->pool[i].next = sh->free;
		sh->free = &sh->pool[i];
	}
	sh->hits = 0;
	sh->score = 0;
}

/* Chooses the sampling rate for a tier of about capacity entries and empties the shadows. */
static void
tlfu_shadows_scale(struct tlfu_state *s, uint64_t capacity)
{
	double rate = 1.0;

	if (capacity < 1)
		capacity = 1;
	if (capacity > TLFU_SHADOW_ENTRIES)
		rate = (double)TLFU_SHADOW_ENTRIES / (double)capacity;
	s->capacity = capacity;
	s->sample_below = (uint64_t)(rate * (double)(UINT64_C(1) << 24));
	for (size_t i = 0; i < TLFU_SHADOWS; i++)
		tlfu_shadow_reset(s, &s->shadows[i], rate, tlfu_shares[i]);
	s->period = TLFU_PERIOD_PER_ENTRY * capacity;
	if (s->period < TLFU_PERIOD_MIN)
		s->period = TLFU_PERIOD_MIN;
}

/* One request for the key of hash h (of charge bytes) in a shadow. */
static void
tlfu_shadow_access(struct tlfu_state *s, struct tlfu_shadow *sh, uint64_t h, size_t charge)
{
	struct local_node *n = tlfu_shadow_find(sh, h);

	if (n != NULL) {
		sh->hits++;
		tlfu_core_touched(&sh->core, n);
		return;
	}
	if ((double)charge > sh->core.max_bytes || sh->core.max_entries < 1)
		return;
	while ((double)(tlfu_entries(&sh->core) + 1) > sh->core.max_entries ||
	       (double)(tlfu_bytes(&sh->core) + charge) > sh->core.max_bytes) {
		struct local_node *v = tlfu_core_victim(&sh->core, s);

		TC_ASSERT(v != NULL);
		tlfu_unlink(v);
		tlfu_shadow_del(sh, v);
		v->next = sh->free;
		sh->free = v;
	}
	n = sh->free;
	TC_ASSERT(n != NULL);
	sh->free = n->next;
	n->hash = h;
	n->charge = charge;
	tlfu_shadow_add(sh, n);
	tlfu_core_inserted(&sh->core, n);
}

/*
 * One request seen by the tier (a hit or an insert): counted in the sketch, replayed in the
 * shadows when sampled, and at the end of a period the window's share becomes the share of
 * the shadow with the best recent score.
 */
static void
tlfu_access(struct tlfu_state *s, const struct local_node *n)
{
	sketch_add(s->sketch, n->hash);
	if ((n->hash >> 40) < s->sample_below) {
		for (size_t i = 0; i < TLFU_SHADOWS; i++)
			tlfu_shadow_access(s, &s->shadows[i], n->hash, n->charge);
	}
	if (++s->requests < s->period)
		return;
	s->requests = 0;
	size_t best = 0;
	for (size_t i = 0; i < TLFU_SHADOWS; i++) {
		struct tlfu_shadow *sh = &s->shadows[i];

		sh->score = sh->score * TLFU_SCORE_DECAY + (double)sh->hits;
		sh->hits = 0;
		if (sh->score > s->shadows[best].score)
			best = i;
	}
	if (s->shadows[best].score > 0 && s->core.share != tlfu_shares[best]) {
		s->core.share = tlfu_shares[best];
		s->adaptations++;
	}
}

static void
tlfu_destroy(void *state)
{
	struct tlfu_state *s = state;

	for (size_t i = 0; i < TLFU_SHADOWS; i++) {
		free(s->shadows[i].pool);
		free(s->shadows[i].slots);
	}
	sketch_destroy(s->sketch);
	free(s);
}

/* (Re)allocates the sketch and the shadows for a tier of the given bounds. */
static void
tlfu_size(struct tlfu_state *s, uint64_t max_bytes, uint64_t max_entries)
{
	uint64_t capacity = max_bytes / TLFU_MIN_CHARGE, slots = 4;

	if (max_entries < capacity)
		capacity = max_entries;
	s->max_entries = (double)max_entries;
	s->max_bytes = (double)max_bytes;
	s->core.max_entries = s->max_entries;
	s->core.max_bytes = s->max_bytes;
	sketch_destroy(s->sketch);
	/* no doorkeeper: with conservative update it cost 0.1 to 0.4 points on every trace
	 * measured (it forgets at each halving which keys were seen once) */
	s->sketch = sketch_create(capacity, policy_seed(), false);
	/* a sampled shadow holds about TLFU_SHADOW_ENTRIES nodes: a quarter more is ample slack */
	s->pool_size = TLFU_SHADOW_ENTRIES + TLFU_SHADOW_ENTRIES / 4;
	if (capacity + 1 < s->pool_size)
		s->pool_size = capacity + 1;
	while (slots < 2 * s->pool_size)
		slots <<= 1;
	for (size_t i = 0; i < TLFU_SHADOWS; i++) {
		struct tlfu_shadow *sh = &s->shadows[i];

		free(sh->pool);
		free(sh->slots);
		sh->pool = xcalloc(s->pool_size, sizeof(*sh->pool));
		sh->slots = xcalloc(slots, sizeof(*sh->slots));
		sh->slot_mask = slots - 1;
	}
	tlfu_shadows_scale(s, capacity);
}

static void *
tlfu_create(void)
{
	struct tlfu_state *s = xcalloc(1, sizeof(*s));
	uint64_t seed = policy_seed();

	s->core.share = TLFU_INITIAL_SHARE;
	s->rng = seed ^ UINT64_C(0x2545f4914f6cdd1d);
	if (s->rng == 0)
		s->rng = 1;
	tlfu_size(s, UINT64_MAX, 16);
	s->max_entries = (double)UINT64_MAX;
	s->core.max_entries = s->max_entries;
	return s;
}

/* Sizes the sketch and the shadows for the tier's bounds (before any node is linked). */
static void
tlfu_limits(void *state, uint64_t max_bytes, uint64_t max_entries)
{
	struct tlfu_state *s = state;

	TC_ASSERT(tlfu_entries(&s->core) == 0);
	tlfu_size(s, max_bytes, max_entries);
}

static void
tlfu_inserted(void *state, struct local_node *n)
{
	struct tlfu_state *s = state;

	TC_ASSERT(n->hh.key != NULL);
	n->hash = sketch_hash(s->sketch, n->hh.key, n->hh.keylen);
	tlfu_core_inserted(&s->core, n);
	tlfu_access(s, n);
}

static void
tlfu_touched(void *state, struct local_node *n)
{
	struct tlfu_state *s = state;

	tlfu_core_touched(&s->core, n);
	tlfu_access(s, n);
}

static void
tlfu_removed(void *state, struct local_node *n)
{
	(void)state;
	tlfu_unlink(n);
}

static struct local_node *
tlfu_victim(void *state)
{
	struct tlfu_state *s = state;

	if (!s->calibrated && tlfu_entries(&s->core) > 0) {
		/* the tier is full: its real capacity in entries is known now */
		uint64_t full = tlfu_entries(&s->core);

		s->calibrated = true;
		if (full * 2 < s->capacity || full > s->capacity * 2)
			tlfu_shadows_scale(s, full);
	}
	return tlfu_core_victim(&s->core, s);
}

static void
tlfu_info(void *state, struct local_policy_info *out)
{
	const struct tlfu_state *s = state;

	out->window_entries = s->core.window.entries;
	out->window_bytes = s->core.window.bytes;
	out->probation_entries = s->core.probation.entries;
	out->probation_bytes = s->core.probation.bytes;
	out->protected_entries = s->core.protect.entries;
	out->protected_bytes = s->core.protect.bytes;
	out->window_target = s->core.share;
	out->admitted = s->core.admitted;
	out->rejected = s->core.rejected;
	out->adaptations = s->adaptations;
}

const struct policy_ops policy_tinylfu = {
        .name = "tinylfu",
        .create = tlfu_create,
        .destroy = tlfu_destroy,
        .inserted = tlfu_inserted,
        .touched = tlfu_touched,
        .removed = tlfu_removed,
        .victim = tlfu_victim,
        .limits = tlfu_limits,
        .info = tlfu_info,
};
