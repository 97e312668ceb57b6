/* lnpaystore demo: the life cycle of outgoing Lightning payments through the C API.
 *
 *   make demo                 # builds the library and this program, runs it on ./demo.db
 *   build/demo [PATH]         # any other store file
 *
 * What it does, step by step (each step is printed as it happens):
 *   1. opens the store (durable: every commit is fsync'd);
 *   2. pays 300,000 msat as a multi-path payment (MPP) in three shards; one shard fails
 *      and is retried as a fourth; the receiver settles them all;
 *   3. starts a second payment of 50,000 msat and leaves its shard in flight;
 *   4. closes the store, as if the node stopped, and opens it again;
 *   5. asks the store for the payments still in flight and finishes them;
 *   6. prints every payment in the store and the counts per status.
 *
 * Running it again on the same file adds two new payments: their hashes come from the
 * clock, so they never collide with earlier runs. Any failing call stops the demo with
 * lps_last_error() and exit status 1.
 */

#define _XOPEN_SOURCE 700

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lnpaystore.h"

/* ---- helpers ------------------------------------------------------------------------ */

static LpsStore *store; /* closed on a failure too, so the file is released cleanly */

/* Stops the demo when a call fails, with the library's own message. */
static void must(LpsStatus status, const char *what) {
    char error[512];
    if (status == LPS_STATUS_OK)
        return;
    snprintf(error, sizeof error, "%s", lps_last_error()); /* read it before any other call */
    fprintf(stderr, "\ndemo: %s failed: %s: %s\n", what, lps_status_name(status), error);
    if (store)
        lps_store_close(store);
    exit(1);
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A payment the demo makes: the preimage only the receiver knows, and its hash. */
typedef struct demo_payment {
    uint8_t preimage[32];
    uint8_t hash[32];
} demo_payment;

/* The receiver picks the preimage (here: the run's seed and n); its SHA-256, which the
 * library computes, is the payment hash. */
static void make_payment(demo_payment *p, int64_t seed, uint8_t n) {
    int i;
    memset(p->preimage, 0x5a, sizeof p->preimage);
    for (i = 0; i < 8; i++)
        p->preimage[i] = (uint8_t)((uint64_t)seed >> (56 - 8 * i));
    p->preimage[8] = n;
    must(lps_payment_hash(p->preimage, p->hash), "lps_payment_hash");
}

static const char *hash_prefix(const uint8_t hash[32]) {
    static char buf[17];
    int i;
    for (i = 0; i < 8; i++)
        sprintf(buf + 2 * i, "%02x", hash[i]);
    return buf;
}

static const char *status_text(uint8_t status) {
    switch (status) {
    case LPS_PAYMENT_STATUS_INITIATED: return "INITIATED";
    case LPS_PAYMENT_STATUS_IN_FLIGHT: return "IN_FLIGHT";
    case LPS_PAYMENT_STATUS_SUCCEEDED: return "SUCCEEDED";
    case LPS_PAYMENT_STATUS_FAILED: return "FAILED";
    default: return "?";
    }
}

/* One line with what the router decides from: status and derived state. */
static void show(const char *step, LpsPayment *p) {
    bool more = false;
    must(lps_payment_allow_more_attempts(p, &more), "lps_payment_allow_more_attempts");
    printf("   %-44s -> %-9s in flight %u, left %6llu msat, fees %4llu msat%s\n",
           step, status_text(p->status), (unsigned)p->state.num_attempts_in_flight,
           (unsigned long long)p->state.remaining_amt_msat,
           (unsigned long long)p->state.fees_paid_msat,
           more ? ", may add shards" : "");
    lps_payment_free(p);
}

/* A route of three hops (us -> A -> B -> receiver) delivering `amt`; A and B each take a
 * 1-sat fee. `mpp` (may be NULL) marks the shard as part of a multi-path payment. */
typedef struct demo_route {
    LpsHop hops[3];
    LpsAttemptInfo attempt;
} demo_route;

static void make_attempt(demo_route *r, uint64_t id, uint64_t amt, const LpsMpp *mpp) {
    int i;
    memset(r, 0, sizeof *r);
    for (i = 0; i < 3; i++) {
        memset(r->hops[i].pub_key, 0x02 + i, 33);
        r->hops[i].channel_id = (820000ULL << 40) | (uint64_t)(id * 10 + (uint64_t)i);
        r->hops[i].outgoing_time_lock = 850000 - 40 * (uint32_t)i;
    }
    r->hops[0].amt_to_forward_msat = amt + 1000; /* A forwards to B, B's fee included */
    r->hops[1].amt_to_forward_msat = amt;        /* B forwards to the receiver */
    r->hops[2].amt_to_forward_msat = amt;        /* the receiver gets amt */
    r->hops[2].mpp = mpp;
    r->attempt.attempt_id = id;
    memset(r->attempt.session_key, (int)id, 32);
    r->attempt.route.total_time_lock = 850100;
    r->attempt.route.total_amount_msat = amt + 2000;
    memset(r->attempt.route.source_pub_key, 0x03, 33);
    r->attempt.route.hops = r->hops;
    r->attempt.route.hops_len = 3;
    r->attempt.attempt_time_ns = now_ns();
}

static LpsPayment *send_shard(const demo_payment *p, uint64_t id, uint64_t amt,
                              const LpsMpp *mpp) {
    demo_route r;
    LpsPayment *out = NULL;
    make_attempt(&r, id, amt, mpp);
    must(lps_register_attempt(store, p->hash, &r.attempt, &out), "lps_register_attempt");
    return out;
}

static LpsPayment *settle_shard(const demo_payment *p, uint64_t id) {
    LpsSettleInfo settle;
    LpsPayment *out = NULL;
    memcpy(settle.preimage, p->preimage, 32);
    settle.settle_time_ns = now_ns();
    must(lps_settle_attempt(store, p->hash, id, &settle, &out), "lps_settle_attempt");
    return out;
}

static void start_payment(const demo_payment *p, uint64_t value_msat) {
    LpsCreationInfo info;
    LpsPayment *out = NULL;
    memset(&info, 0, sizeof info);
    memcpy(info.payment_identifier, p->hash, 32);
    info.value_msat = value_msat;
    info.creation_time_ns = now_ns();
    must(lps_init_payment(store, p->hash, &info), "lps_init_payment");
    must(lps_fetch_payment(store, p->hash, &out), "lps_fetch_payment");
    printf("   payment %s..., sequence number %llu\n", hash_prefix(p->hash),
           (unsigned long long)out->sequence_num);
    show("lps_init_payment", out);
}

static void open_store(const char *path) {
    LpsOptions opts;
    LpsPaymentCounts c;
    lps_options_default(&opts); /* durable: every commit is fsync'd */
    must(lps_store_open(path, &opts, &store), "lps_store_open");
    must(lps_payment_counts(store, &c), "lps_payment_counts");
    printf("   opened %s: %llu payments stored so far\n", path, (unsigned long long)c.total);
}

/* ---- the steps ------------------------------------------------------------------------ */

static void pay_with_mpp(const demo_payment *p) {
    LpsMpp mpp;
    LpsFailInfo fail;
    LpsPayment *out = NULL;
    static const uint8_t temporary_channel_failure[] = {0x10, 0x07};

    printf("\n2. Pay 300,000 msat in three shards of 100,000 (a multi-path payment)\n");
    start_payment(p, 300000);
    memcpy(mpp.payment_addr, p->preimage, 32); /* the invoice's payment address */
    mpp.total_msat = 300000;
    show("lps_register_attempt: shard 1 of 100,000", send_shard(p, 1, 100000, &mpp));
    show("lps_register_attempt: shard 2 of 100,000", send_shard(p, 2, 100000, &mpp));
    show("lps_register_attempt: shard 3 of 100,000", send_shard(p, 3, 100000, &mpp));

    memset(&fail, 0, sizeof fail);
    fail.fail_time_ns = now_ns();
    fail.message.ptr = temporary_channel_failure;
    fail.message.len = sizeof temporary_channel_failure;
    fail.reason = LPS_HTLC_FAIL_REASON_MESSAGE;
    fail.failure_source_index = 1; /* hop B could not forward */
    must(lps_fail_attempt(store, p->hash, 2, &fail, &out), "lps_fail_attempt");
    show("lps_fail_attempt: shard 2 failed at hop B", out);
    show("lps_register_attempt: shard 4 retries it", send_shard(p, 4, 100000, &mpp));

    show("lps_settle_attempt: receiver settles shard 1", settle_shard(p, 1));
    show("lps_settle_attempt: receiver settles shard 3", settle_shard(p, 3));
    show("lps_settle_attempt: receiver settles shard 4", settle_shard(p, 4));
}

static void leave_in_flight(const demo_payment *p) {
    printf("\n3. Pay 50,000 msat in one shard, and stop before it resolves\n");
    start_payment(p, 50000);
    show("lps_register_attempt: shard 1 of 50,000", send_shard(p, 1, 50000, NULL));
}

static void restart(const char *path) {
    printf("\n4. Close the store with that payment in flight (the node stops), then reopen\n");
    must(lps_store_close(store), "lps_store_close");
    store = NULL;
    printf("   closed\n");
    open_store(path);
}

/* After a restart a node resumes every payment the store still has in flight. */
static void resume(const demo_payment *ours) {
    LpsPaymentList *list = NULL;
    size_t i, j;

    printf("\n5. Resume: lps_fetch_inflight_payments\n");
    must(lps_fetch_inflight_payments(store, &list), "lps_fetch_inflight_payments");
    printf("   %zu payment(s) in flight\n", list->len);
    for (i = 0; i < list->len; i++) {
        const LpsPayment *p = &list->payments[i];
        bool ours_now = memcmp(p->payment_hash, ours->hash, 32) == 0;
        printf("   payment %s..., sequence %llu, %s, %zu shard(s)\n", hash_prefix(p->payment_hash),
               (unsigned long long)p->sequence_num, status_text(p->status), p->htlcs_len);
        for (j = 0; j < p->htlcs_len; j++) {
            const LpsHtlcAttempt *h = &p->htlcs[j];
            if (h->settle || h->failure)
                continue;
            if (ours_now) {
                /* The shard's HTLC was settled while we were down: record the proof. */
                show("lps_settle_attempt: the preimage arrives", settle_shard(ours, h->info.attempt_id));
            } else {
                /* Left by an interrupted earlier run: we do not know its preimage. */
                LpsFailInfo fail;
                LpsPayment *out = NULL;
                memset(&fail, 0, sizeof fail);
                fail.fail_time_ns = now_ns();
                must(lps_fail_attempt(store, p->payment_hash, h->info.attempt_id, &fail, &out),
                     "lps_fail_attempt");
                show("lps_fail_attempt: stale shard of an old run", out);
            }
        }
        if (!ours_now) {
            LpsPayment *out = NULL;
            must(lps_fail_payment(store, p->payment_hash, LPS_FAILURE_REASON_CANCELED, &out),
                 "lps_fail_payment");
            show("lps_fail_payment: the router gives it up", out);
        }
    }
    lps_payment_list_free(list);
}

static void print_table(void) {
    LpsQuery q;
    LpsQueryResponse *page = NULL;
    LpsPaymentCounts c;
    size_t i, j;

    printf("\n6. Every payment in the store (lps_query_payments, pages of 100)\n\n");
    printf("   %5s  %-16s  %-9s  %10s  %7s  %-16s\n", "seq", "hash", "status", "value msat",
           "fees", "attempts");
    memset(&q, 0, sizeof q);
    q.include_incomplete = true; /* not only SUCCEEDED payments */
    q.max_payments = 100;
    do {
        must(lps_query_payments(store, &q, &page), "lps_query_payments");
        for (i = 0; i < page->payments_len; i++) {
            const LpsPayment *p = &page->payments[i];
            size_t failed = 0;
            char attempts[32];
            for (j = 0; j < p->htlcs_len; j++)
                failed += p->htlcs[j].failure != NULL;
            snprintf(attempts, sizeof attempts, "%zu (%zu failed)", p->htlcs_len, failed);
            printf("   %5llu  %-16s  %-9s  %10llu  %7llu  %-16s\n",
                   (unsigned long long)p->sequence_num, hash_prefix(p->payment_hash),
                   status_text(p->status), (unsigned long long)p->info.value_msat,
                   (unsigned long long)p->state.fees_paid_msat, attempts);
        }
        q.index_offset = page->last_index_offset; /* exclusive: the next page starts after */
        i = page->payments_len;
        lps_query_response_free(page);
    } while (i == q.max_payments);

    must(lps_payment_counts(store, &c), "lps_payment_counts");
    printf("\n   counts: total %llu | initiated %llu | in flight %llu | succeeded %llu | "
           "failed %llu\n",
           (unsigned long long)c.total, (unsigned long long)c.initiated,
           (unsigned long long)c.in_flight, (unsigned long long)c.succeeded,
           (unsigned long long)c.failed);
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "demo.db";
    int64_t seed = now_ns() ^ (int64_t)getpid();
    demo_payment first, second;

    printf("lnpaystore %s (C ABI %u): the payment life cycle\n", lps_version(),
           (unsigned)lps_abi_version());
    if (lps_abi_version() != LPS_ABI_VERSION) {
        fprintf(stderr, "demo: library ABI %u, header ABI %u\n", (unsigned)lps_abi_version(),
                (unsigned)LPS_ABI_VERSION);
        return 1;
    }
    make_payment(&first, seed, 1);
    make_payment(&second, seed, 2);

    printf("\n1. Open the store (new payments get fresh hashes from the clock)\n");
    open_store(path);
    pay_with_mpp(&first);
    leave_in_flight(&second);
    restart(path);
    resume(&second);
    print_table();
    must(lps_store_close(store), "lps_store_close");
    store = NULL;
    printf("\n   closed %s; run me again to add two more payments\n", path);
    return 0;
}
