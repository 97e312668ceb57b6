/* Mission control through the C ABI (docs/behaviour.md, Mission control): namespaces,
 * flush, fetch_all round trip, eviction, clear, persistence, and handles that outlive
 * lps_store_close. */

#define _XOPEN_SOURCE 700

#include <string.h>

#include "harness.h"


/* A result: two hops, replied at `reply_ns`; a failure from hop `fail_index` with a
 * message unless fail_index < 0. Points into itself: build in place. */
typedef struct mc_result {
    LpsMcHop hops[2];
    LpsMcResult r;
} mc_result;

static const uint8_t FAIL_MSG[] = {0x10, 0x07, 0x00, 0x01};

static void mc_result_make(mc_result *m, uint64_t id, int64_t reply_ns, int fail_index) {
    int i;
    memset(m, 0, sizeof *m);
    for (i = 0; i < 2; i++) {
        m->hops[i].channel_id = 1000 + (uint64_t)i;
        memset(m->hops[i].pub_key, 0x02 + i, 33);
        m->hops[i].amt_to_fwd_msat = 5000 - 10 * (uint64_t)i;
    }
    m->hops[1].has_blinding_point = true;
    m->hops[0].has_custom_records = true;
    m->r.id = id;
    m->r.time_fwd_ns = reply_ns - 500;
    m->r.time_reply_ns = reply_ns;
    memset(m->r.route.source_pub_key, 0x03, 33);
    m->r.route.total_amount_msat = 5010;
    m->r.route.hops = m->hops;
    m->r.route.hops_len = 2;
    m->r.success = fail_index < 0;
    if (fail_index >= 0) {
        m->r.has_failure_source_index = true;
        m->r.failure_source_index = (uint8_t)fail_index;
        m->r.failure_message.ptr = FAIL_MSG;
        m->r.failure_message.len = sizeof FAIL_MSG;
    }
}

static void expect_result(const char *name, const LpsMcResult *g, const LpsMcResult *w) {
    size_t i;
    CHECK_U64(name, g->id, w->id);
    CHECK_U64(name, g->time_fwd_ns, w->time_fwd_ns);
    CHECK_U64(name, g->time_reply_ns, w->time_reply_ns);
    CHECK_MEM(name, g->route.source_pub_key, w->route.source_pub_key, 33);
    CHECK_U64(name, g->route.total_amount_msat, w->route.total_amount_msat);
    CHECK_U64(name, g->success, w->success);
    CHECK_U64(name, g->has_failure_source_index, w->has_failure_source_index);
    CHECK_U64(name, g->failure_source_index, w->failure_source_index);
    if (CHECK_U64(name, g->failure_message.len, w->failure_message.len) && w->failure_message.len)
        CHECK_MEM(name, g->failure_message.ptr, w->failure_message.ptr, w->failure_message.len);
    if (!CHECK_U64(name, g->route.hops_len, w->route.hops_len))
        return;
    for (i = 0; i < w->route.hops_len; i++) {
        const LpsMcHop *gh = &g->route.hops[i], *wh = &w->route.hops[i];
        CHECK_U64(name, gh->channel_id, wh->channel_id);
        CHECK_MEM(name, gh->pub_key, wh->pub_key, 33);
        CHECK_U64(name, gh->amt_to_fwd_msat, wh->amt_to_fwd_msat);
        CHECK_U64(name, gh->has_blinding_point, wh->has_blinding_point);
        CHECK_U64(name, gh->has_custom_records, wh->has_custom_records);
    }
}

static LpsMcStats stats(const char *name, LpsMissionControl *mc) {
    LpsMcStats s;
    memset(&s, 0, sizeof s);
    CHECK_OK(name, lps_mc_stats(mc, &s));
    return s;
}

/* Number of stored results (-1 on failure). */
static long fetch_count(const char *name, LpsMissionControl *mc) {
    LpsMcResultList *list = NULL;
    long n;
    if (!CHECK_OK(name, lps_mc_fetch_all(mc, &list)) || !list)
        return -1;
    n = (long)list->len;
    lps_mc_result_list_free(list);
    return n;
}

static void mission_control_basics(void) {
    h_env e;
    LpsMcOptions o;
    LpsMissionControl *mc = NULL, *other = NULL, *small = NULL, *again = H_SENTINEL;
    LpsMcResultList *list = NULL;
    mc_result ok, failed, older;
    LpsMcStats s;

    ENV_OPEN(&e);
    memset(&o, 0xab, sizeof o);
    lps_mc_options_default(&o);
    CHECK_U64("mc: default max_records", o.max_records, 1000);
    CHECK_U64("mc: default flush_interval_ms", o.flush_interval_ms, 1000);
    o.flush_interval_ms = 600000; /* only explicit flushes in this test */

    if (!CHECK_OK("mc: open default", lps_mc_open(e.store, NULL, &o, &mc))) {
        h_env_close(&e);
        return;
    }
    CHECK_STATUS("mc: same namespace twice", lps_mc_open(e.store, "default", NULL, &again),
                 LPS_STATUS_LOCKED);
    CHECK("mc: out untouched", again == H_SENTINEL);
    CHECK_OK("mc: open another namespace", lps_mc_open(e.store, "other", &o, &other));

    mc_result_make(&ok, 1, 2000, -1);
    mc_result_make(&failed, 2, 4000, 1);
    CHECK_OK("mc: add a failure", lps_mc_add_result(mc, &failed.r));
    CHECK_OK("mc: add a success", lps_mc_add_result(mc, &ok.r));
    s = stats("mc: stats queued", mc);
    CHECK_U64("mc: two queued", s.queued, 2);
    CHECK_U64("mc: none stored yet", s.stored, 0);
    CHECK_U64("mc: fetch_all sees stored results only", fetch_count("mc: fetch", mc), 0);
    CHECK_OK("mc: flush", lps_mc_flush(mc));
    s = stats("mc: stats flushed", mc);
    CHECK_U64("mc: nothing queued", s.queued, 0);
    CHECK_U64("mc: two stored", s.stored, 2);
    CHECK("mc: one flush at least", s.flushes >= 1);

    if (CHECK_OK("mc: fetch_all", lps_mc_fetch_all(mc, &list)) && list &&
        CHECK_U64("mc: two results", list->len, 2)) {
        expect_result("mc: first by time of reply", &list->results[0], &ok.r);
        expect_result("mc: second by time of reply", &list->results[1], &failed.r);
    }
    lps_mc_result_list_free(list);
    CHECK_U64("mc: namespaces are independent", fetch_count("mc: other", other), 0);

    /* Eviction: one record kept, the oldest by time of reply goes. */
    o.max_records = 1;
    if (CHECK_OK("mc: open small", lps_mc_open(e.store, "small", &o, &small))) {
        mc_result_make(&older, 3, 1000, 0);
        CHECK_OK("mc: small add", lps_mc_add_result(small, &failed.r));
        CHECK_OK("mc: small add older", lps_mc_add_result(small, &older.r));
        CHECK_OK("mc: small flush", lps_mc_flush(small));
        s = stats("mc: small stats", small);
        CHECK_U64("mc: one kept", s.stored, 1);
        CHECK_U64("mc: one evicted", s.evicted, 1);
        list = NULL;
        if (CHECK_OK("mc: small fetch", lps_mc_fetch_all(small, &list)) && list &&
            CHECK_U64("mc: small has one", list->len, 1))
            expect_result("mc: the newest stays", &list->results[0], &failed.r);
        lps_mc_result_list_free(list);
        CHECK_OK("mc: close small", lps_mc_close(small));
    }

    CHECK_OK("mc: clear", lps_mc_clear(mc));
    CHECK_U64("mc: cleared", fetch_count("mc: after clear", mc), 0);
    CHECK_OK("mc: other add", lps_mc_add_result(other, &ok.r));
    CHECK_OK("mc: close flushes", lps_mc_close(other));
    CHECK_OK("mc: close default", lps_mc_close(mc));
    CHECK_OK("mc: close NULL", lps_mc_close(NULL));

    /* Persistence across a restart. */
    if (h_env_reopen(&e)) {
        other = NULL;
        if (CHECK_OK("mc: reopen other", lps_mc_open(e.store, "other", &o, &other))) {
            list = NULL;
            if (CHECK_OK("mc: fetch after restart", lps_mc_fetch_all(other, &list)) && list &&
                CHECK_U64("mc: the result closing stored", list->len, 1))
                expect_result("mc: after restart", &list->results[0], &ok.r);
            lps_mc_result_list_free(list);
            CHECK_OK("mc: close other again", lps_mc_close(other));
        }
        mc = NULL;
        if (CHECK_OK("mc: reopen default", lps_mc_open(e.store, NULL, NULL, &mc))) {
            CHECK_U64("mc: default stays cleared", fetch_count("mc: default", mc), 0);
            CHECK_OK("mc: close default again", lps_mc_close(mc));
        }
    }
    h_env_close(&e);
}

/* Closing the store stores what a handle queued and closes it; later calls give
 * LPS_STATUS_CLOSED and lps_mc_close still frees it. */
static void mission_control_after_store_close(void) {
    h_env e;
    LpsMcOptions o;
    LpsMissionControl *mc = NULL;
    LpsMcResultList *list = H_SENTINEL;
    LpsMcStats s, s_sentinel;
    mc_result r;

    ENV_OPEN(&e);
    lps_mc_options_default(&o);
    o.flush_interval_ms = 600000;
    if (!CHECK_OK("mc close: open", lps_mc_open(e.store, "ns", &o, &mc))) {
        h_env_close(&e);
        return;
    }
    mc_result_make(&r, 9, 7000, 0);
    CHECK_OK("mc close: add", lps_mc_add_result(mc, &r.r));
    CHECK_OK("mc close: close the store", lps_store_close(e.store));
    e.store = NULL;

    memset(&s, 0x5a, sizeof s);
    s_sentinel = s;
    CHECK_STATUS("mc close: add", lps_mc_add_result(mc, &r.r), LPS_STATUS_CLOSED);
    CHECK_STATUS("mc close: flush", lps_mc_flush(mc), LPS_STATUS_CLOSED);
    CHECK_STATUS("mc close: fetch_all", lps_mc_fetch_all(mc, &list), LPS_STATUS_CLOSED);
    CHECK_STATUS("mc close: clear", lps_mc_clear(mc), LPS_STATUS_CLOSED);
    CHECK_STATUS("mc close: stats", lps_mc_stats(mc, &s), LPS_STATUS_CLOSED);
    CHECK("mc close: outs untouched",
          list == H_SENTINEL && memcmp(&s, &s_sentinel, sizeof s) == 0);
    CHECK_OK("mc close: close still frees", lps_mc_close(mc));

    CHECK_OK("mc close: reopen the store", h_store_open(e.path, &e.store));
    mc = NULL;
    if (e.store && CHECK_OK("mc close: reopen ns", lps_mc_open(e.store, "ns", &o, &mc))) {
        list = NULL;
        if (CHECK_OK("mc close: fetch", lps_mc_fetch_all(mc, &list)) && list &&
            CHECK_U64("mc close: the queued result was stored", list->len, 1))
            expect_result("mc close: stored", &list->results[0], &r.r);
        lps_mc_result_list_free(list);
        CHECK_OK("mc close: close", lps_mc_close(mc));
    }
    h_env_close(&e);
}

/* Adds results id first..last (replied at id seconds) to `mc`. */
static void add_range(const char *name, LpsMissionControl *mc, uint64_t first, uint64_t last) {
    uint64_t id;
    mc_result m;
    for (id = first; id <= last; id++) {
        mc_result_make(&m, id, (int64_t)id * 1000000000, -1);
        CHECK_OK(name, lps_mc_add_result(mc, &m.r));
    }
}

/* The ids stored, oldest first, must be exactly first..last. */
static void expect_ids(const char *name, LpsMissionControl *mc, uint64_t first, uint64_t last) {
    LpsMcResultList *list = NULL;
    size_t i;
    if (!CHECK_OK(name, lps_mc_fetch_all(mc, &list)) || !list)
        return;
    if (CHECK_U64(name, list->len, last - first + 1))
        for (i = 0; i < list->len; i++)
            CHECK_U64(name, list->results[i].id, first + i);
    lps_mc_result_list_free(list);
}

/* Duplicates, eviction across flushes and a restart, a lowered limit, the flush
 * interval, and an idle flusher that never wakes. */
static void mission_control_flushing(void) {
    h_env e;
    LpsMcOptions o;
    LpsMissionControl *mc = NULL, *timed = NULL;
    LpsMcStats s;
    int64_t start;

    ENV_OPEN(&e);
    lps_mc_options_default(&o);
    o.max_records = 10;
    o.flush_interval_ms = 600000;
    if (!CHECK_OK("flushing: open", lps_mc_open(e.store, "evict", &o, &mc))) {
        h_env_close(&e);
        return;
    }
    add_range("flushing: add", mc, 1, 7);
    add_range("flushing: duplicates", mc, 5, 7);
    CHECK_OK("flushing: flush", lps_mc_flush(mc));
    expect_ids("flushing: duplicates stored once", mc, 1, 7);
    add_range("flushing: add more", mc, 8, 14);
    CHECK_OK("flushing: flush again", lps_mc_flush(mc));
    expect_ids("flushing: the newest 10 kept", mc, 5, 14);
    s = stats("flushing: stats", mc);
    CHECK_U64("flushing: stored", s.stored, 10);
    CHECK_U64("flushing: evicted", s.evicted, 4);
    CHECK_OK("flushing: close", lps_mc_close(mc));
    mc = NULL;
    if (CHECK("flushing: restart", h_env_reopen(&e))) {
        o.max_records = 4; /* a lower limit trims at once */
        if (CHECK_OK("flushing: reopen", lps_mc_open(e.store, "evict", &o, &mc))) {
            expect_ids("flushing: trimmed to the newest 4", mc, 11, 14);
            add_range("flushing: add after restart", mc, 15, 16);
            CHECK_OK("flushing: flush after restart", lps_mc_flush(mc));
            expect_ids("flushing: still the newest 4", mc, 13, 16);
            CHECK_OK("flushing: close after restart", lps_mc_close(mc));
        }
    }

    /* A 300 ms interval: nothing stored right away, everything within seconds. */
    o.max_records = 0;
    o.flush_interval_ms = 300;
    if (e.store && CHECK_OK("interval: open", lps_mc_open(e.store, "timed", &o, &timed))) {
        h_sleep_ms(1500);
        CHECK_U64("idle: no wake-ups", stats("idle: stats", timed).wakeups, 0);
        start = h_now_ms();
        add_range("interval: add", timed, 1, 5);
        s = stats("interval: stats", timed);
        if (h_now_ms() - start < 150)
            CHECK_U64("interval: nothing stored yet", s.stored, 0);
        while (stats("interval: poll", timed).stored < 5 && h_now_ms() - start < 10000)
            h_sleep_ms(20);
        CHECK("interval: not before the interval", h_now_ms() - start >= 300);
        s = stats("interval: stored", timed);
        CHECK_U64("interval: all stored", s.stored, 5);
        CHECK_U64("interval: one flush", s.flushes, 1);
        h_sleep_ms(1000);
        CHECK_U64("idle again: no more wake-ups", stats("idle again", timed).wakeups, s.wakeups);
        CHECK_OK("interval: close", lps_mc_close(timed));
    }
    h_env_close(&e);
}

static const h_case cases[] = {
    {"mission_control_basics", mission_control_basics},
    {"mission_control_flushing", mission_control_flushing},
    {"mission_control_after_store_close", mission_control_after_store_close},
};

const h_suite mission_control_suite = {"mission_control", cases, sizeof cases / sizeof cases[0]};
