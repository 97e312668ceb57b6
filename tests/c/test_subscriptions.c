/* Subscriptions with a reader thread per subscription (pthreads): order of events, end of
 * stream after the terminal event, subscribe-all, closing from another thread, timeouts,
 * unknown hashes, and subscriptions that outlive their store (docs/behaviour.md,
 * Subscriptions). */

#define _XOPEN_SOURCE 700

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

#define MAX_EVENTS 32

/* What a reader thread saw: one record per event, then how the stream ended. */
typedef struct event {
    uint8_t hash[32];
    uint8_t status;
    uint32_t in_flight;
    size_t htlcs;
    bool has_settled;
} event;

typedef struct reader {
    LpsSubscription *sub;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    event events[MAX_EVENTS];
    size_t len;
    bool done;
    LpsStatus end;          /* the status that ended the loop */
    char end_error[256];    /* lps_last_error() that came with it, on the reader's thread */
    bool out_touched;       /* *out written on a non-OK return */
} reader;

static void *read_events(void *arg) {
    reader *r = arg;
    for (;;) {
        LpsPayment *p = H_SENTINEL;
        LpsStatus st = lps_subscription_next(r->sub, -1, &p);
        pthread_mutex_lock(&r->lock);
        if (st != LPS_STATUS_OK || r->len == MAX_EVENTS) {
            snprintf(r->end_error, sizeof r->end_error, "%s", lps_last_error());
            r->out_touched = st != LPS_STATUS_OK && p != H_SENTINEL;
            if (st == LPS_STATUS_OK)
                lps_payment_free(p);
            r->end = st;
            r->done = true;
            pthread_cond_broadcast(&r->changed);
            pthread_mutex_unlock(&r->lock);
            return NULL;
        }
        memcpy(r->events[r->len].hash, p->payment_hash, 32);
        r->events[r->len].status = p->status;
        r->events[r->len].in_flight = p->state.num_attempts_in_flight;
        r->events[r->len].htlcs = p->htlcs_len;
        r->events[r->len].has_settled = p->state.has_settled_htlc;
        r->len++;
        pthread_cond_broadcast(&r->changed);
        pthread_mutex_unlock(&r->lock);
        lps_payment_free(p);
    }
}

static bool reader_start(reader *r, LpsSubscription *sub) {
    memset(r, 0, sizeof *r);
    r->sub = sub;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->changed, NULL);
    return CHECK("reader thread started", pthread_create(&r->thread, NULL, read_events, r) == 0);
}

/* Waits until the reader saw `n` events or ended (at most ~10 s, generous for valgrind). */
static size_t reader_wait(reader *r, size_t n) {
    size_t len;
    int64_t deadline = h_now_ms() + 10000;
    pthread_mutex_lock(&r->lock);
    while (r->len < n && !r->done && h_now_ms() < deadline) {
        pthread_mutex_unlock(&r->lock);
        h_sleep_ms(5);
        pthread_mutex_lock(&r->lock);
    }
    len = r->len;
    pthread_mutex_unlock(&r->lock);
    return len;
}

static void reader_join(reader *r) {
    pthread_join(r->thread, NULL);
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->changed);
}

/* The reader ended with END_OF_STREAM, a non-empty error message, and `out` untouched. */
static void expect_end_of_stream(const char *name, const reader *r) {
    CHECK(name, r->done);
    CHECK_U64(name, r->end, LPS_STATUS_END_OF_STREAM);
    CHECK(name, r->end_error[0] != '\0');
    CHECK(name, !r->out_touched);
}

static void expect_event(const char *name, const reader *r, size_t i, const uint8_t hash[32],
                         uint8_t status, uint32_t in_flight, size_t htlcs) {
    char n[200];
    snprintf(n, sizeof n, "%s: event %zu", name, i);
    if (!CHECK(n, i < r->len))
        return;
    CHECK_MEM(n, r->events[i].hash, hash, 32);
    CHECK_U64(n, r->events[i].status, status);
    CHECK_U64(n, r->events[i].in_flight, in_flight);
    CHECK_U64(n, r->events[i].htlcs, htlcs);
}


/* Two subscriptions to one payment, a reader thread each, while the main thread drives
 * it: initiated, shard out, shard failed, retry out, settled; then end of stream. */
static void single_payment_stream(void) {
    h_env e;
    h_pay p;
    LpsSubscription *subs[2] = {NULL, NULL};
    reader readers[2];
    LpsPayment *after = H_SENTINEL;
    int i;

    ENV_OPEN(&e);
    h_pay_make(&p, 1);
    h_init("stream: init", e.store, &p, 5000);
    for (i = 0; i < 2; i++) {
        if (!CHECK_OK("stream: subscribe", lps_subscribe_payment(e.store, p.hash, &subs[i])) ||
            !reader_start(&readers[i], subs[i])) {
            h_env_close(&e);
            return;
        }
    }
    h_register("stream: shard 1", e.store, &p, 1, 5000, 0);
    h_fail_attempt("stream: shard 1 fails", e.store, &p, 1);
    h_register("stream: shard 2", e.store, &p, 2, 5000, 0);
    h_settle("stream: shard 2 settles", e.store, &p, 2);

    for (i = 0; i < 2; i++) {
        reader *r = &readers[i];
        reader_join(r); /* the stream ends by itself after the terminal event */
        CHECK_U64("stream: five events", r->len, 5);
        expect_event("stream", r, 0, p.hash, LPS_PAYMENT_STATUS_INITIATED, 0, 0);
        expect_event("stream", r, 1, p.hash, LPS_PAYMENT_STATUS_IN_FLIGHT, 1, 1);
        expect_event("stream", r, 2, p.hash, LPS_PAYMENT_STATUS_IN_FLIGHT, 0, 1);
        expect_event("stream", r, 3, p.hash, LPS_PAYMENT_STATUS_IN_FLIGHT, 1, 2);
        expect_event("stream", r, 4, p.hash, LPS_PAYMENT_STATUS_SUCCEEDED, 0, 2);
        expect_end_of_stream("stream: end after the terminal event", r);
        CHECK_STATUS("stream: next after the end", lps_subscription_next(subs[i], 0, &after),
                     LPS_STATUS_END_OF_STREAM);
        CHECK("stream: out untouched after the end", after == H_SENTINEL);
        lps_subscription_free(subs[i]);
    }
    h_env_close(&e);
}

/* A subscription to a payment that is already terminal: its state, then the end. */
static void terminal_payment_stream(void) {
    h_env e;
    h_pay p;
    LpsSubscription *sub = NULL;
    LpsPayment *pay = NULL;

    ENV_OPEN(&e);
    h_pay_make(&p, 1);
    h_init("terminal: init", e.store, &p, 100);
    h_register("terminal: register", e.store, &p, 1, 100, 0);
    h_settle("terminal: settle", e.store, &p, 1);
    if (CHECK_OK("terminal: subscribe", lps_subscribe_payment(e.store, p.hash, &sub))) {
        if (CHECK_OK("terminal: first event", lps_subscription_next(sub, -1, &pay)) && pay)
            CHECK_U64("terminal: the settled state", pay->status, LPS_PAYMENT_STATUS_SUCCEEDED);
        lps_payment_free(pay);
        pay = H_SENTINEL;
        CHECK_STATUS("terminal: then the end", lps_subscription_next(sub, -1, &pay),
                     LPS_STATUS_END_OF_STREAM);
        CHECK("terminal: out untouched", pay == H_SENTINEL);
        lps_subscription_free(sub);
    }
    h_env_close(&e);
}

/* subscribe_all: the non-terminal payments first, then every change of any payment. */
static void all_payments_stream(void) {
    h_env e;
    h_pay a, b, c, d;
    LpsSubscription *sub = NULL;
    reader r;
    size_t seen;

    ENV_OPEN(&e);
    h_pay_make(&a, 1);
    h_pay_make(&b, 2);
    h_pay_make(&c, 3);
    h_pay_make(&d, 4);
    h_init("all: a", e.store, &a, 1000);
    h_register("all: a in flight", e.store, &a, 1, 1000, 0);
    h_init("all: b", e.store, &b, 2000);
    h_register("all: b", e.store, &b, 1, 2000, 0);
    h_settle("all: b succeeded", e.store, &b, 1);
    h_init("all: c initiated", e.store, &c, 3000);

    if (!CHECK_OK("all: subscribe", lps_subscribe_all_payments(e.store, &sub)) ||
        !reader_start(&r, sub)) {
        h_env_close(&e);
        return;
    }
    /* The initial states must be out before the changes, in either order among them. */
    seen = reader_wait(&r, 2);
    CHECK_U64("all: two in-flight payments first", seen, 2);
    h_settle("all: a settles", e.store, &a, 1);
    h_init("all: d initiated", e.store, &d, 4000);
    {
        LpsPayment *out = NULL;
        CHECK_OK("all: c fails", lps_fail_payment(e.store, c.hash, LPS_FAILURE_REASON_NO_ROUTE, &out));
        lps_payment_free(out);
    }
    seen = reader_wait(&r, 5);
    CHECK_U64("all: five events", seen, 5);
    CHECK("all: still running", !r.done);
    lps_subscription_close(sub); /* from the main thread, while the reader waits */
    reader_join(&r);
    expect_end_of_stream("all: close ends the stream", &r);
    CHECK_U64("all: nothing after the close", r.len, 5);

    if (r.len >= 2) {
        bool a_first = memcmp(r.events[0].hash, a.hash, 32) == 0;
        expect_event("all: initial", &r, a_first ? 0 : 1, a.hash, LPS_PAYMENT_STATUS_IN_FLIGHT, 1, 1);
        expect_event("all: initial", &r, a_first ? 1 : 0, c.hash, LPS_PAYMENT_STATUS_INITIATED, 0, 0);
    }
    expect_event("all: change", &r, 2, a.hash, LPS_PAYMENT_STATUS_SUCCEEDED, 0, 1);
    expect_event("all: change", &r, 3, d.hash, LPS_PAYMENT_STATUS_INITIATED, 0, 0);
    expect_event("all: change", &r, 4, c.hash, LPS_PAYMENT_STATUS_FAILED, 0, 0);
    lps_subscription_close(sub); /* idempotent */
    lps_subscription_free(sub);
    h_env_close(&e);
}

/* A reader blocked in next(-1) on a quiet stream is woken by a close from another thread. */
static void close_wakes_blocked_reader(void) {
    h_env e;
    h_pay p;
    LpsSubscription *subs[2] = {NULL, NULL};
    reader readers[2];
    int i;

    ENV_OPEN(&e);
    h_pay_make(&p, 1);
    h_init("wake: init", e.store, &p, 100);
    if (!CHECK_OK("wake: subscribe all", lps_subscribe_all_payments(e.store, &subs[0])) ||
        !CHECK_OK("wake: subscribe one", lps_subscribe_payment(e.store, p.hash, &subs[1]))) {
        lps_subscription_free(subs[0]);
        h_env_close(&e);
        return;
    }
    for (i = 0; i < 2; i++)
        reader_start(&readers[i], subs[i]);
    for (i = 0; i < 2; i++)
        CHECK_U64("wake: initial state read", reader_wait(&readers[i], 1), 1);
    h_sleep_ms(50); /* let both readers block in next(-1) */
    for (i = 0; i < 2; i++) {
        pthread_mutex_lock(&readers[i].lock);
        CHECK("wake: reader still blocked", !readers[i].done);
        pthread_mutex_unlock(&readers[i].lock);
        lps_subscription_close(subs[i]);
        reader_join(&readers[i]);
        expect_end_of_stream("wake: closed stream ends", &readers[i]);
        lps_subscription_free(subs[i]);
    }
    /* The payment goes on; nobody listens any more. */
    h_register("wake: register after close", e.store, &p, 1, 100, 0);
    h_env_close(&e);
}

static void timeouts(void) {
    h_env e;
    h_pay p;
    LpsSubscription *sub = NULL, *one = NULL;
    LpsPayment *pay = H_SENTINEL;
    int64_t t0;

    ENV_OPEN(&e);
    if (!CHECK_OK("timeout: subscribe all", lps_subscribe_all_payments(e.store, &sub))) {
        h_env_close(&e);
        return;
    }
    CHECK_STATUS("timeout: poll an empty stream", lps_subscription_next(sub, 0, &pay),
                 LPS_STATUS_TIMEOUT);
    CHECK("timeout: out untouched", pay == H_SENTINEL);
    t0 = h_now_ms();
    CHECK_STATUS("timeout: 30 ms", lps_subscription_next(sub, 30, &pay), LPS_STATUS_TIMEOUT);
    CHECK("timeout: waited about 30 ms", h_now_ms() - t0 >= 25);
    CHECK("timeout: out untouched", pay == H_SENTINEL);

    /* An event that is there is returned by a poll. */
    h_pay_make(&p, 1);
    h_init("timeout: init", e.store, &p, 100);
    pay = NULL;
    if (CHECK_OK("timeout: poll finds the event", lps_subscription_next(sub, 0, &pay)) && pay)
        CHECK_MEM("timeout: the new payment", pay->payment_hash, p.hash, 32);
    lps_payment_free(pay);
    pay = H_SENTINEL;
    CHECK_STATUS("timeout: then nothing", lps_subscription_next(sub, 0, &pay), LPS_STATUS_TIMEOUT);

    if (CHECK_OK("timeout: subscribe one", lps_subscribe_payment(e.store, p.hash, &one))) {
        pay = NULL;
        if (CHECK_OK("timeout: initial state by poll", lps_subscription_next(one, 0, &pay)) && pay)
            CHECK_U64("timeout: initiated", pay->status, LPS_PAYMENT_STATUS_INITIATED);
        lps_payment_free(pay);
        pay = H_SENTINEL;
        CHECK_STATUS("timeout: single stream quiet", lps_subscription_next(one, 10, &pay),
                     LPS_STATUS_TIMEOUT);
        CHECK("timeout: out untouched", pay == H_SENTINEL);
        lps_subscription_close(one);
        CHECK_STATUS("timeout: closed stream polls end", lps_subscription_next(one, 0, &pay),
                     LPS_STATUS_END_OF_STREAM);
        lps_subscription_free(one);
    }
    lps_subscription_free(sub); /* free without an explicit close */
    h_env_close(&e);
}

static void unknown_hash(void) {
    h_env e;
    h_pay p;
    LpsSubscription *sub = H_SENTINEL;

    ENV_OPEN(&e);
    h_pay_make(&p, 1);
    CHECK_STATUS("unknown: subscribe", lps_subscribe_payment(e.store, p.hash, &sub),
                 LPS_STATUS_PAYMENT_NOT_INITIATED);
    CHECK("unknown: out untouched", sub == H_SENTINEL);
    h_env_close(&e);
}

/* Subscriptions outlive lps_store_close: a blocked reader wakes with END_OF_STREAM, a
 * poll gives the events they had queued, then END_OF_STREAM, and freeing them afterwards
 * is fine. */
static void subscriptions_outlive_store(void) {
    h_env e;
    h_pay p;
    LpsSubscription *all = NULL, *one = NULL, *idle = NULL;
    LpsPayment *pay = H_SENTINEL;
    reader r;

    ENV_OPEN(&e);
    h_pay_make(&p, 1);
    h_init("outlive: init", e.store, &p, 100);
    h_register("outlive: register", e.store, &p, 1, 100, 0);
    if (!CHECK_OK("outlive: subscribe all", lps_subscribe_all_payments(e.store, &all)) ||
        !CHECK_OK("outlive: subscribe one", lps_subscribe_payment(e.store, p.hash, &one)) ||
        !CHECK_OK("outlive: subscribe idle", lps_subscribe_all_payments(e.store, &idle)) ||
        !reader_start(&r, all)) {
        lps_subscription_free(all);
        lps_subscription_free(one);
        lps_subscription_free(idle);
        h_env_close(&e);
        return;
    }
    CHECK_U64("outlive: initial state", reader_wait(&r, 1), 1);
    h_sleep_ms(30);
    CHECK_OK("outlive: close the store", lps_store_close(e.store));
    e.store = NULL;
    reader_join(&r);
    expect_end_of_stream("outlive: blocked reader ends", &r);
    CHECK_U64("outlive: one event only", r.len, 1);

    /* Events queued before the close are still delivered, then the stream ends. */
    if (CHECK_OK("outlive: queued event delivered", lps_subscription_next(one, 0, &pay))) {
        CHECK_U64("outlive: it is the in-flight state", pay->status, LPS_PAYMENT_STATUS_IN_FLIGHT);
        lps_payment_free(pay);
        pay = H_SENTINEL;
    }
    CHECK_STATUS("outlive: single stream ends", lps_subscription_next(one, 0, &pay),
                 LPS_STATUS_END_OF_STREAM);
    CHECK_STATUS("outlive: forever wait does not hang", lps_subscription_next(one, -1, &pay),
                 LPS_STATUS_END_OF_STREAM);
    CHECK("outlive: out untouched", pay == H_SENTINEL);
    lps_subscription_close(idle);
    lps_subscription_free(all);
    lps_subscription_free(one);
    lps_subscription_free(idle);
    CHECK("outlive: frees leave no error", lps_last_error()[0] == '\0');
    h_env_close(&e);
}

static const h_case cases[] = {
    {"single_payment_stream", single_payment_stream},
    {"terminal_payment_stream", terminal_payment_stream},
    {"all_payments_stream", all_payments_stream},
    {"close_wakes_blocked_reader", close_wakes_blocked_reader},
    {"timeouts", timeouts},
    {"unknown_hash", unknown_hash},
    {"subscriptions_outlive_store", subscriptions_outlive_store},
};

const h_suite subscription_suite = {"subscriptions", cases, sizeof cases / sizeof cases[0]};
