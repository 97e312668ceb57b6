/* The abuse suite: every export with each NULL pointer argument, NULL pointers with
 * non-zero lengths, bad custom records, out-of-range enums, oversized lengths, bad
 * paths, NULL frees, status names and the last error. Each invalid call (one ABUSE)
 * must return its documented status with a non-empty lps_last_error(), leave its
 * out-parameters untouched and leave the store unchanged (h_abuse_watch). */

#define _XOPEN_SOURCE 700

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define NULL_ARG LPS_STATUS_NULL_ARGUMENT
#define INVALID LPS_STATUS_INVALID_ARGUMENT

/* A store with three payments: `a` in flight (MPP, 10000 msat, shard 1 of 4000 out; the
 * watched payment), `b` succeeded, `c` initiated; `n` is not in the store. Valid inputs
 * for each call, which the cases break one field at a time. */
typedef struct fixture {
    h_env env;
    LpsStore *s;
    h_pay a, b, c, n;
    LpsCreationInfo ci; /* for n */
    h_attempt at;       /* shard 2 of a: 1000 msat */
    LpsSettleInfo si;   /* settles shard 1 of a */
    LpsFailInfo fi;     /* fails shard 1 of a */
    LpsQuery q;
} fixture;

static void fixture_reset_inputs(fixture *f) {
    h_creation(&f->ci, &f->n, 5000, H_TIME);
    h_attempt_make(&f->at, 2, 1000, H_FEE);
    h_attempt_mpp(&f->at, 0xad, 10000);
    memcpy(f->si.preimage, f->a.preimage, 32);
    f->si.settle_time_ns = H_TIME;
    memset(&f->fi, 0, sizeof f->fi);
    f->fi.reason = LPS_HTLC_FAIL_REASON_UNKNOWN;
    memset(&f->q, 0, sizeof f->q);
    f->q.include_incomplete = true;
}

static bool fixture_open(fixture *f) {
    memset(f, 0, sizeof *f);
    if (!h_env_open(&f->env)) {
        h_env_close(&f->env);
        return false;
    }
    f->s = f->env.store;
    h_pay_make(&f->a, 1);
    h_pay_make(&f->b, 2);
    h_pay_make(&f->c, 3);
    h_pay_make(&f->n, 4);
    h_init("fixture: a", f->s, &f->a, 10000);
    h_register("fixture: a shard 1", f->s, &f->a, 1, 4000, 10000);
    h_init("fixture: b", f->s, &f->b, 100);
    h_register("fixture: b", f->s, &f->b, 1, 100, 0);
    h_settle("fixture: b", f->s, &f->b, 1);
    h_init("fixture: c", f->s, &f->c, 300);
    fixture_reset_inputs(f);
    h_abuse_watch(f->s, f->a.hash);
    return true;
}

static void fixture_close(fixture *f) {
    h_abuse_watch(NULL, NULL);
    h_expect_counts("fixture unchanged at the end", f->s, 3, 1, 1, 1, 0);
    h_env_close(&f->env);
}

#define FIXTURE(f)                                                                       \
    fixture f;                                                                           \
    if (!fixture_open(&f))                                                               \
    return

/* ---- NULL pointer arguments -------------------------------------------------------- */

static void null_pointer_arguments(void) {
    LpsPayment *pay = H_SENTINEL;
    LpsPaymentList *list = H_SENTINEL;
    LpsQueryResponse *resp = H_SENTINEL;
    LpsSubscription *sub = H_SENTINEL, *live = NULL;
    LpsStore *store = H_SENTINEL;
    LpsPaymentCounts counts, counts_sentinel;
    uint64_t deleted = 0xdeadbeef;
    bool flag = true, flag_sentinel = true;
    LpsPayment *fetched = NULL;
    uint8_t hash_out[32], hash_sentinel[32];
    FIXTURE(f);

    memset(&counts, 0xa5, sizeof counts);
    memset(hash_out, 0xa5, sizeof hash_out);
    memcpy(hash_sentinel, hash_out, sizeof hash_out);
    counts_sentinel = counts;

    ABUSE("init: store NULL", lps_init_payment(NULL, f.n.hash, &f.ci), NULL_ARG);
    ABUSE("init: hash NULL", lps_init_payment(f.s, NULL, &f.ci), NULL_ARG);
    ABUSE("init: info NULL", lps_init_payment(f.s, f.n.hash, NULL), NULL_ARG);

    ABUSE("register: store NULL", lps_register_attempt(NULL, f.a.hash, &f.at.info, &pay), NULL_ARG);
    ABUSE("register: hash NULL", lps_register_attempt(f.s, NULL, &f.at.info, &pay), NULL_ARG);
    ABUSE("register: attempt NULL", lps_register_attempt(f.s, f.a.hash, NULL, &pay), NULL_ARG);

    ABUSE("settle: store NULL", lps_settle_attempt(NULL, f.a.hash, 1, &f.si, &pay), NULL_ARG);
    ABUSE("settle: hash NULL", lps_settle_attempt(f.s, NULL, 1, &f.si, &pay), NULL_ARG);
    ABUSE("settle: settle NULL", lps_settle_attempt(f.s, f.a.hash, 1, NULL, &pay), NULL_ARG);

    ABUSE("fail_attempt: store NULL", lps_fail_attempt(NULL, f.a.hash, 1, &f.fi, &pay), NULL_ARG);
    ABUSE("fail_attempt: hash NULL", lps_fail_attempt(f.s, NULL, 1, &f.fi, &pay), NULL_ARG);
    ABUSE("fail_attempt: fail NULL", lps_fail_attempt(f.s, f.a.hash, 1, NULL, &pay), NULL_ARG);

    ABUSE("fail_payment: store NULL",
          lps_fail_payment(NULL, f.a.hash, LPS_FAILURE_REASON_ERROR, &pay), NULL_ARG);
    ABUSE("fail_payment: hash NULL", lps_fail_payment(f.s, NULL, LPS_FAILURE_REASON_ERROR, &pay),
          NULL_ARG);

    ABUSE("fetch: store NULL", lps_fetch_payment(NULL, f.a.hash, &pay), NULL_ARG);
    ABUSE("fetch: hash NULL", lps_fetch_payment(f.s, NULL, &pay), NULL_ARG);
    ABUSE("fetch: out NULL", lps_fetch_payment(f.s, f.a.hash, NULL), NULL_ARG);

    ABUSE("fetch_inflight: store NULL", lps_fetch_inflight_payments(NULL, &list), NULL_ARG);
    ABUSE("fetch_inflight: out NULL", lps_fetch_inflight_payments(f.s, NULL), NULL_ARG);

    ABUSE("delete_failed_attempts: store NULL", lps_delete_failed_attempts(NULL, f.b.hash),
          NULL_ARG);
    ABUSE("delete_failed_attempts: hash NULL", lps_delete_failed_attempts(f.s, NULL), NULL_ARG);
    ABUSE("delete_payment: store NULL", lps_delete_payment(NULL, f.b.hash, false), NULL_ARG);
    ABUSE("delete_payment: hash NULL", lps_delete_payment(f.s, NULL, false), NULL_ARG);
    ABUSE("delete_payments: store NULL", lps_delete_payments(NULL, false, false, &deleted),
          NULL_ARG);

    ABUSE("payment_hash: preimage NULL", lps_payment_hash(NULL, hash_out), NULL_ARG);
    ABUSE("payment_hash: out NULL", lps_payment_hash(f.a.preimage, NULL), NULL_ARG);
    CHECK_MEM("payment_hash: out untouched", hash_out, hash_sentinel, 32);
    ABUSE("payment_counts: store NULL", lps_payment_counts(NULL, &counts), NULL_ARG);
    ABUSE("payment_counts: out NULL", lps_payment_counts(f.s, NULL), NULL_ARG);

    ABUSE("query: store NULL", lps_query_payments(NULL, &f.q, &resp), NULL_ARG);
    ABUSE("query: query NULL", lps_query_payments(f.s, NULL, &resp), NULL_ARG);
    ABUSE("query: out NULL", lps_query_payments(f.s, &f.q, NULL), NULL_ARG);

    ABUSE("compact: store NULL", lps_store_compact(NULL), NULL_ARG);

    ABUSE("subscribe: store NULL", lps_subscribe_payment(NULL, f.a.hash, &sub), NULL_ARG);
    ABUSE("subscribe: hash NULL", lps_subscribe_payment(f.s, NULL, &sub), NULL_ARG);
    ABUSE("subscribe: out NULL", lps_subscribe_payment(f.s, f.a.hash, NULL), NULL_ARG);
    ABUSE("subscribe_all: store NULL", lps_subscribe_all_payments(NULL, &sub), NULL_ARG);
    ABUSE("subscribe_all: out NULL", lps_subscribe_all_payments(f.s, NULL), NULL_ARG);
    ABUSE("subscription_next: sub NULL", lps_subscription_next(NULL, 0, &pay), NULL_ARG);
    ABUSE("subscription_next: sub NULL, wait forever", lps_subscription_next(NULL, -1, &pay),
          NULL_ARG);
    if (CHECK_OK("subscribe for the out NULL case", lps_subscribe_payment(f.s, f.a.hash, &live))) {
        ABUSE("subscription_next: out NULL", lps_subscription_next(live, 0, NULL), NULL_ARG);
        lps_subscription_free(live);
    }

    /* A NULL pointer is NULL_ARGUMENT even when another argument is also invalid. */
    f.ci.payment_request.len = 5;
    ABUSE("init: hash NULL and a bad info", lps_init_payment(f.s, NULL, &f.ci), NULL_ARG);
    f.at.info.route.hops = NULL;
    ABUSE("register: hash NULL and a bad attempt",
          lps_register_attempt(f.s, NULL, &f.at.info, &pay), NULL_ARG);
    f.fi.reason = 9;
    ABUSE("fail_attempt: hash NULL and a bad reason", lps_fail_attempt(f.s, NULL, 1, &f.fi, &pay),
          NULL_ARG);
    ABUSE("fail_payment: hash NULL and a bad reason", lps_fail_payment(f.s, NULL, 9, &pay),
          NULL_ARG);
    fixture_reset_inputs(&f);

    ABUSE("store_open: path NULL", lps_store_open(NULL, NULL, &store), NULL_ARG);
    ABUSE("store_open: out NULL", lps_store_open(f.env.path, NULL, NULL), NULL_ARG);
    ABUSE("store_open_read_only: path NULL", lps_store_open_read_only(NULL, NULL, &store),
          NULL_ARG);
    ABUSE("store_open_read_only: out NULL", lps_store_open_read_only(f.env.path, NULL, NULL),
          NULL_ARG);
    ABUSE("store_backup: store NULL", lps_store_backup(NULL, f.env.path), NULL_ARG);
    ABUSE("store_backup: dest NULL", lps_store_backup(f.s, NULL), NULL_ARG);
    ABUSE("store_backup: dest empty", lps_store_backup(f.s, ""), INVALID);

    if ((fetched = h_fetch("fetch a payment for the decisions", f.s, f.a.hash)) != NULL) {
        ABUSE("need_wait_attempts: payment NULL", lps_payment_need_wait_attempts(NULL, &flag),
              NULL_ARG);
        ABUSE("need_wait_attempts: out NULL", lps_payment_need_wait_attempts(fetched, NULL),
              NULL_ARG);
        ABUSE("allow_more_attempts: payment NULL", lps_payment_allow_more_attempts(NULL, &flag),
              NULL_ARG);
        ABUSE("allow_more_attempts: out NULL", lps_payment_allow_more_attempts(fetched, NULL),
              NULL_ARG);
        lps_payment_free(fetched);
    }
    {
        bool t = true;
        ABUSE_VOID("terminated: payment NULL", t = lps_payment_terminated(NULL), 1);
        CHECK("terminated: NULL gives false", t == false);
    }
    ABUSE_VOID("options_default: out NULL", lps_options_default(NULL), 1);

    /* Out-parameters untouched by every call above. */
    CHECK("NULL args: payment out untouched", pay == H_SENTINEL);
    CHECK("NULL args: list out untouched", list == H_SENTINEL);
    CHECK("NULL args: response out untouched", resp == H_SENTINEL);
    CHECK("NULL args: subscription out untouched", sub == H_SENTINEL);
    CHECK("NULL args: store out untouched", store == H_SENTINEL);
    CHECK("NULL args: counts untouched", memcmp(&counts, &counts_sentinel, sizeof counts) == 0);
    CHECK("NULL args: deleted untouched", deleted == 0xdeadbeef);
    CHECK("NULL args: bool out untouched", memcmp(&flag, &flag_sentinel, sizeof flag) == 0);
    fixture_close(&f);
}

/* Every _free and lps_subscription_close with NULL returns; lps_store_close(NULL) is OK. */
static void null_frees(void) {
    LpsStatus st = LPS_STATUS_INTERNAL;
    FIXTURE(f);
    ABUSE_VOID("lps_payment_free(NULL)", lps_payment_free(NULL), 0);
    ABUSE_VOID("lps_payment_list_free(NULL)", lps_payment_list_free(NULL), 0);
    ABUSE_VOID("lps_query_response_free(NULL)", lps_query_response_free(NULL), 0);
    ABUSE_VOID("lps_subscription_free(NULL)", lps_subscription_free(NULL), 0);
    ABUSE_VOID("lps_subscription_close(NULL)", lps_subscription_close(NULL), 0);
    ABUSE_VOID("lps_mc_result_list_free(NULL)", lps_mc_result_list_free(NULL), 0);
    ABUSE_VOID("lps_mc_close(NULL)", st = lps_mc_close(NULL), 0);
    CHECK_U64("lps_mc_close(NULL) is OK", st, LPS_STATUS_OK);
    ABUSE_VOID("lps_store_close(NULL)", st = lps_store_close(NULL), 0);
    CHECK_U64("lps_store_close(NULL) is OK", st, LPS_STATUS_OK);
    fixture_close(&f);
}

/* ---- NULL with a length, empty route ---------------------------------------------- */

static void null_with_length(void) {
    LpsRecord rec[2];
    LpsPayment *pay = H_SENTINEL;
    FIXTURE(f);

    f.ci.payment_request.ptr = NULL;
    f.ci.payment_request.len = 5;
    ABUSE("init: payment_request NULL, len 5", lps_init_payment(f.s, f.n.hash, &f.ci), INVALID);
    fixture_reset_inputs(&f);
    f.ci.first_hop_custom_records = NULL;
    f.ci.first_hop_custom_records_len = 2;
    ABUSE("init: first_hop_custom_records NULL, len 2", lps_init_payment(f.s, f.n.hash, &f.ci),
          INVALID);
    rec[0].type = 65536;
    rec[0].value.ptr = NULL;
    rec[0].value.len = 3;
    fixture_reset_inputs(&f);
    f.ci.first_hop_custom_records = rec;
    f.ci.first_hop_custom_records_len = 1;
    ABUSE("init: record value NULL, len 3", lps_init_payment(f.s, f.n.hash, &f.ci), INVALID);

    fixture_reset_inputs(&f);
    f.at.info.route.hops = NULL;
    ABUSE("register: hops NULL, len 2", lps_register_attempt(f.s, f.a.hash, &f.at.info, &pay),
          INVALID);
    fixture_reset_inputs(&f);
    f.at.info.route.hops_len = 0;
    ABUSE("register: empty route", lps_register_attempt(f.s, f.a.hash, &f.at.info, &pay),
          INVALID);
    fixture_reset_inputs(&f);
    f.at.hops[1].encrypted_data.len = 4;
    ABUSE("register: encrypted_data NULL, len 4",
          lps_register_attempt(f.s, f.a.hash, &f.at.info, &pay), INVALID);
    fixture_reset_inputs(&f);
    f.at.hops[0].encrypted_data.len = 4;
    ABUSE("register: encrypted_data NULL on an inner hop",
          lps_register_attempt(f.s, f.a.hash, &f.at.info, &pay), INVALID);
    fixture_reset_inputs(&f);
    f.at.hops[1].metadata.len = 4;
    ABUSE("register: metadata NULL, len 4", lps_register_attempt(f.s, f.a.hash, &f.at.info, &pay),
          INVALID);
    fixture_reset_inputs(&f);
    f.at.hops[0].custom_records_len = 1;
    ABUSE("register: hop custom_records NULL, len 1",
          lps_register_attempt(f.s, f.a.hash, &f.at.info, &pay), INVALID);
    fixture_reset_inputs(&f);
    rec[0].value.len = 1;
    f.at.hops[1].custom_records = rec;
    f.at.hops[1].custom_records_len = 1;
    ABUSE("register: hop record value NULL, len 1",
          lps_register_attempt(f.s, f.a.hash, &f.at.info, &pay), INVALID);
    fixture_reset_inputs(&f);
    f.at.info.route.first_hop_wire_custom_records_len = 1;
    ABUSE("register: wire records NULL, len 1",
          lps_register_attempt(f.s, f.a.hash, &f.at.info, &pay), INVALID);
    fixture_reset_inputs(&f);
    rec[0].value.len = 2;
    f.at.info.route.first_hop_wire_custom_records = rec;
    f.at.info.route.first_hop_wire_custom_records_len = 1;
    ABUSE("register: wire record value NULL, len 2",
          lps_register_attempt(f.s, f.a.hash, &f.at.info, &pay), INVALID);

    fixture_reset_inputs(&f);
    f.fi.message.len = 7;
    ABUSE("fail_attempt: message NULL, len 7", lps_fail_attempt(f.s, f.a.hash, 1, &f.fi, &pay),
          INVALID);
    CHECK("NULL with length: out untouched", pay == H_SENTINEL);
    fixture_close(&f);
}

/* ---- custom records ---------------------------------------------------------------- */

/* Records where to put them: creation info, a hop, the route's wire records. */
enum where { IN_CREATION, IN_HOP, IN_WIRE };

static LpsStatus with_records(fixture *f, enum where w, const LpsRecord *rec, size_t len) {
    fixture_reset_inputs(f);
    switch (w) {
    case IN_CREATION:
        f->ci.first_hop_custom_records = rec;
        f->ci.first_hop_custom_records_len = len;
        return lps_init_payment(f->s, f->n.hash, &f->ci);
    case IN_HOP:
        f->at.hops[1].custom_records = rec;
        f->at.hops[1].custom_records_len = len;
        break;
    case IN_WIRE:
        f->at.info.route.first_hop_wire_custom_records = rec;
        f->at.info.route.first_hop_wire_custom_records_len = len;
        break;
    }
    return lps_register_attempt(f->s, f->a.hash, &f->at.info, NULL);
}

static void custom_record_rules(void) {
    static const char *where_name[] = {"creation", "hop", "wire"};
    static const uint8_t v1[] = {1}, v2[] = {2, 2};
    LpsRecord dup[3], low[1];
    char name[128];
    int w;
    FIXTURE(f);

    dup[0].type = 70000;
    dup[0].value.ptr = v1;
    dup[0].value.len = 1;
    dup[1].type = 65536;
    dup[1].value.ptr = NULL;
    dup[1].value.len = 0;
    dup[2].type = 70000;
    dup[2].value.ptr = v2;
    dup[2].value.len = 2;
    for (w = IN_CREATION; w <= IN_WIRE; w++) {
        snprintf(name, sizeof name, "records in %s: duplicate type", where_name[w]);
        ABUSE(name, with_records(&f, (enum where)w, dup, 3), INVALID);
        low[0].type = 65535;
        low[0].value.ptr = v1;
        low[0].value.len = 1;
        snprintf(name, sizeof name, "records in %s: type 65535", where_name[w]);
        ABUSE(name, with_records(&f, (enum where)w, low, 1), INVALID);
        low[0].type = 0;
        snprintf(name, sizeof name, "records in %s: type 0", where_name[w]);
        ABUSE(name, with_records(&f, (enum where)w, low, 1), INVALID);
    }
    fixture_close(&f);
}

/* ---- enums and inconsistent payments ----------------------------------------------- */

static void enum_ranges(void) {
    LpsPayment *pay = H_SENTINEL, *fetched;
    LpsSubscription *live = NULL;
    FIXTURE(f);

    ABUSE("fail_payment: reason 6", lps_fail_payment(f.s, f.a.hash, 6, &pay), INVALID);
    ABUSE("fail_payment: reason 255", lps_fail_payment(f.s, f.a.hash, 255, &pay), INVALID);
    f.fi.reason = 4;
    ABUSE("fail_attempt: reason 4", lps_fail_attempt(f.s, f.a.hash, 1, &f.fi, &pay), INVALID);
    f.fi.reason = 255;
    ABUSE("fail_attempt: reason 255", lps_fail_attempt(f.s, f.a.hash, 1, &f.fi, &pay), INVALID);
    fixture_reset_inputs(&f);

    fetched = h_fetch("enum: fetch", f.s, f.a.hash);
    if (fetched) {
        /* A caller's copy of the top-level struct, with a status byte out of range. */
        LpsPayment copy = *fetched;
        bool flag = true, flag_sentinel = true, t = true;
        uint8_t bad[] = {0, 5, 9, 255};
        size_t i;
        char name[128];
        for (i = 0; i < sizeof bad; i++) {
            copy.status = bad[i];
            snprintf(name, sizeof name, "terminated: status %u", bad[i]);
            ABUSE_VOID(name, t = lps_payment_terminated(&copy), 1);
            CHECK(name, t == false);
            snprintf(name, sizeof name, "need_wait_attempts: status %u", bad[i]);
            ABUSE(name, lps_payment_need_wait_attempts(&copy, &flag), INVALID);
            snprintf(name, sizeof name, "allow_more_attempts: status %u", bad[i]);
            ABUSE(name, lps_payment_allow_more_attempts(&copy, &flag), INVALID);
        }
        /* Inconsistent states (docs/c-api.md: LPS_STATUS_INTERNAL). */
        copy = *fetched;
        copy.status = LPS_PAYMENT_STATUS_SUCCEEDED;
        copy.state.remaining_amt_msat = 1;
        ABUSE("need_wait_attempts: succeeded with amount left",
              lps_payment_need_wait_attempts(&copy, &flag), LPS_STATUS_INTERNAL);
        ABUSE("allow_more_attempts: succeeded with amount left",
              lps_payment_allow_more_attempts(&copy, &flag), LPS_STATUS_INTERNAL);
        copy.status = LPS_PAYMENT_STATUS_INITIATED;
        copy.state.remaining_amt_msat = 0;
        ABUSE("need_wait_attempts: initiated with nothing left",
              lps_payment_need_wait_attempts(&copy, &flag), LPS_STATUS_INTERNAL);
        ABUSE("allow_more_attempts: initiated with nothing left",
              lps_payment_allow_more_attempts(&copy, &flag), LPS_STATUS_INTERNAL);
        CHECK("enum: bool out untouched", memcmp(&flag, &flag_sentinel, sizeof flag) == 0);
        lps_payment_free(fetched);
    }

    if (CHECK_OK("enum: subscribe", lps_subscribe_payment(f.s, f.a.hash, &live))) {
        ABUSE("subscription_next: timeout -2", lps_subscription_next(live, -2, &pay), INVALID);
        ABUSE("subscription_next: timeout INT32_MIN",
              lps_subscription_next(live, INT32_MIN, &pay), INVALID);
        lps_subscription_free(live);
    }
    CHECK("enum: out untouched", pay == H_SENTINEL);
    fixture_close(&f);
}

/* ---- length limits ----------------------------------------------------------------- */

static void length_limits(void) {
    const size_t too_long = (size_t)LPS_MAX_BYTES_LEN + 1, too_many = (size_t)LPS_MAX_ARRAY_LEN + 1;
    uint8_t *bytes;
    LpsRecord *recs, one;
    LpsHop *hops;
    LpsPayment *pay = H_SENTINEL;
    LpsPayment *stored;
    size_t i;
    FIXTURE(f);

    bytes = calloc(too_long, 1);
    recs = calloc(too_many, sizeof *recs);
    hops = calloc(too_many, sizeof *hops);
    if (!CHECK("limits: buffers", bytes && recs && hops))
        goto out;
    /* Real buffers of the stated length: the library may look at them, it must refuse. */
    for (i = 0; i < too_many; i++) {
        recs[i].type = 65536 + i;
        hops[i] = f.at.hops[1];
    }

    f.ci.payment_request.ptr = bytes;
    f.ci.payment_request.len = too_long;
    ABUSE("init: payment_request above LPS_MAX_BYTES_LEN", lps_init_payment(f.s, f.n.hash, &f.ci),
          INVALID);
    fixture_reset_inputs(&f);
    f.ci.first_hop_custom_records = recs;
    f.ci.first_hop_custom_records_len = too_many;
    ABUSE("init: records above LPS_MAX_ARRAY_LEN", lps_init_payment(f.s, f.n.hash, &f.ci), INVALID);
    fixture_reset_inputs(&f);
    one.type = 65536;
    one.value.ptr = bytes;
    one.value.len = too_long;
    f.ci.first_hop_custom_records = &one;
    f.ci.first_hop_custom_records_len = 1;
    ABUSE("init: record value above LPS_MAX_BYTES_LEN", lps_init_payment(f.s, f.n.hash, &f.ci),
          INVALID);

    fixture_reset_inputs(&f);
    f.at.info.route.hops = hops;
    f.at.info.route.hops_len = too_many;
    ABUSE("register: hops above LPS_MAX_ARRAY_LEN",
          lps_register_attempt(f.s, f.a.hash, &f.at.info, &pay), INVALID);
    fixture_reset_inputs(&f);
    f.at.hops[1].custom_records = recs;
    f.at.hops[1].custom_records_len = too_many;
    ABUSE("register: hop records above LPS_MAX_ARRAY_LEN",
          lps_register_attempt(f.s, f.a.hash, &f.at.info, &pay), INVALID);
    fixture_reset_inputs(&f);
    f.at.info.route.first_hop_wire_custom_records = recs;
    f.at.info.route.first_hop_wire_custom_records_len = too_many;
    ABUSE("register: wire records above LPS_MAX_ARRAY_LEN",
          lps_register_attempt(f.s, f.a.hash, &f.at.info, &pay), INVALID);
    fixture_reset_inputs(&f);
    f.at.hops[0].encrypted_data.ptr = bytes;
    f.at.hops[0].encrypted_data.len = too_long;
    ABUSE("register: encrypted_data above LPS_MAX_BYTES_LEN",
          lps_register_attempt(f.s, f.a.hash, &f.at.info, &pay), INVALID);
    fixture_reset_inputs(&f);
    f.at.hops[1].metadata.ptr = bytes;
    f.at.hops[1].metadata.len = too_long;
    ABUSE("register: metadata above LPS_MAX_BYTES_LEN",
          lps_register_attempt(f.s, f.a.hash, &f.at.info, &pay), INVALID);
    fixture_reset_inputs(&f);
    f.at.hops[1].custom_records = &one;
    f.at.hops[1].custom_records_len = 1;
    ABUSE("register: hop record value above LPS_MAX_BYTES_LEN",
          lps_register_attempt(f.s, f.a.hash, &f.at.info, &pay), INVALID);
    fixture_reset_inputs(&f);
    f.fi.message.ptr = bytes;
    f.fi.message.len = too_long;
    ABUSE("fail_attempt: message above LPS_MAX_BYTES_LEN",
          lps_fail_attempt(f.s, f.a.hash, 1, &f.fi, &pay), INVALID);
    CHECK("limits: out untouched", pay == H_SENTINEL);

    /* Exactly at the limit is accepted and stored whole (not an abuse case). */
    h_abuse_watch(NULL, NULL);
    fixture_reset_inputs(&f);
    for (i = 0; i < (size_t)LPS_MAX_BYTES_LEN; i++)
        bytes[i] = (uint8_t)i;
    f.ci.payment_request.ptr = bytes;
    f.ci.payment_request.len = LPS_MAX_BYTES_LEN;
    if (CHECK_OK("limits: payment_request of LPS_MAX_BYTES_LEN",
                 lps_init_payment(f.s, f.n.hash, &f.ci)) &&
        (stored = h_fetch("limits: fetch", f.s, f.n.hash)) != NULL) {
        CHECK("limits: stored whole", stored->info.payment_request.len == LPS_MAX_BYTES_LEN &&
                                          memcmp(stored->info.payment_request.ptr, bytes,
                                                 LPS_MAX_BYTES_LEN) == 0);
        lps_payment_free(stored);
        CHECK_OK("limits: delete it again", lps_delete_payment(f.s, f.n.hash, false));
    }
    h_abuse_watch(f.s, f.a.hash);
out:
    free(bytes);
    free(recs);
    free(hops);
    fixture_close(&f);
}

/* ---- paths ------------------------------------------------------------------------- */

static void paths(void) {
    char path[700];
    LpsStore *store = H_SENTINEL;
    FILE *file;
    FIXTURE(f);

    ABUSE("store_open: invalid UTF-8", lps_store_open("\xff\xfe.db", NULL, &store), INVALID);
    snprintf(path, sizeof path, "%s/\xc3\x28.db", f.env.dir);
    ABUSE("store_open: invalid UTF-8 in a real directory", lps_store_open(path, NULL, &store),
          INVALID);
    ABUSE("store_open: empty path", lps_store_open("", NULL, &store), INVALID);
    ABUSE("store_open: a directory", lps_store_open(f.env.dir, NULL, &store), LPS_STATUS_IO);
    snprintf(path, sizeof path, "%s/missing/store.db", f.env.dir);
    ABUSE("store_open: parent directory missing", lps_store_open(path, NULL, &store),
          LPS_STATUS_IO);
    ABUSE("store_open: second open in this process", lps_store_open(f.env.path, NULL, &store),
          LPS_STATUS_LOCKED);

    snprintf(path, sizeof path, "%s/garbage.db", f.env.dir);
    file = fopen(path, "wb");
    if (CHECK("paths: write a garbage file", file != NULL)) {
        char junk[8192];
        memset(junk, 'j', sizeof junk);
        fwrite(junk, 1, sizeof junk, file);
        fclose(file);
        ABUSE("store_open: not a store", lps_store_open(path, NULL, &store), LPS_STATUS_CORRUPT);
    }
    CHECK("paths: out untouched", store == H_SENTINEL);
    fixture_close(&f);
}

/* ---- mission control --------------------------------------------------------------- */

/* The handle's queue and store must not change under an invalid call. */
static void expect_mc_untouched(const char *name, LpsMissionControl *mc) {
    LpsMcStats st;
    if (CHECK_OK(name, lps_mc_stats(mc, &st)))
        CHECK(name, st.queued == 0 && st.stored == 0);
}

static void mission_control_abuse(void) {
    const size_t too_long = (size_t)LPS_MAX_BYTES_LEN + 1, too_many = (size_t)LPS_MAX_ARRAY_LEN + 1;
    LpsMissionControl *mc = NULL, *mc_out = H_SENTINEL, *ok_ns = NULL;
    LpsMcResultList *list = H_SENTINEL;
    LpsMcStats st, st_sentinel;
    LpsMcOptions o;
    LpsMcHop hop, *many = NULL;
    LpsMcResult r;
    uint8_t *bytes = NULL;
    char ns[300];
    FIXTURE(f);

    lps_mc_options_default(&o);
    o.flush_interval_ms = 600000; /* nothing flushes behind the test's back */
    if (!CHECK_OK("mc abuse: open", lps_mc_open(f.s, "abuse", &o, &mc)))
        goto out;
    memset(&st, 0x5a, sizeof st);
    st_sentinel = st;
    memset(&hop, 0, sizeof hop);
    memset(&r, 0, sizeof r);
    r.time_fwd_ns = 1;
    r.time_reply_ns = 2;
    r.route.hops = &hop;
    r.route.hops_len = 1;
    r.success = true;

    ABUSE("mc_open: store NULL", lps_mc_open(NULL, "x", NULL, &mc_out), NULL_ARG);
    ABUSE("mc_open: out NULL", lps_mc_open(f.s, "x", NULL, NULL), NULL_ARG);
    ABUSE("mc_add_result: mc NULL", lps_mc_add_result(NULL, &r), NULL_ARG);
    ABUSE("mc_add_result: result NULL", lps_mc_add_result(mc, NULL), NULL_ARG);
    ABUSE("mc_flush: mc NULL", lps_mc_flush(NULL), NULL_ARG);
    ABUSE("mc_fetch_all: mc NULL", lps_mc_fetch_all(NULL, &list), NULL_ARG);
    ABUSE("mc_fetch_all: out NULL", lps_mc_fetch_all(mc, NULL), NULL_ARG);
    ABUSE("mc_clear: mc NULL", lps_mc_clear(NULL), NULL_ARG);
    ABUSE("mc_stats: mc NULL", lps_mc_stats(NULL, &st), NULL_ARG);
    ABUSE("mc_stats: out NULL", lps_mc_stats(mc, NULL), NULL_ARG);
    ABUSE_VOID("mc_options_default: out NULL", lps_mc_options_default(NULL), 1);

    ABUSE("mc_open: namespace not UTF-8", lps_mc_open(f.s, "\xff\xfe", NULL, &mc_out), INVALID);
    ABUSE("mc_open: empty namespace", lps_mc_open(f.s, "", NULL, &mc_out), INVALID);
    memset(ns, 'n', 256);
    ns[256] = '\0';
    ABUSE("mc_open: namespace of 256 bytes", lps_mc_open(f.s, ns, NULL, &mc_out), INVALID);
    ABUSE("mc_open: namespace open twice", lps_mc_open(f.s, "abuse", NULL, &mc_out),
          LPS_STATUS_LOCKED);
    ns[255] = '\0';
    if (CHECK_OK("mc_open: namespace of 255 bytes", lps_mc_open(f.s, ns, NULL, &ok_ns)))
        CHECK_OK("mc_close: 255-byte namespace", lps_mc_close(ok_ns));

    r.route.hops = NULL;
    ABUSE("mc_add_result: hops NULL, len 1", lps_mc_add_result(mc, &r), INVALID);
    r.route.hops = &hop;
    r.success = false;
    r.failure_message.len = 3;
    ABUSE("mc_add_result: failure_message NULL, len 3", lps_mc_add_result(mc, &r), INVALID);
    r.failure_message.len = 0;
    r.success = true;
    r.time_fwd_ns = -1;
    ABUSE("mc_add_result: negative time_fwd_ns", lps_mc_add_result(mc, &r), INVALID);
    r.time_fwd_ns = 1;
    r.time_reply_ns = -1;
    ABUSE("mc_add_result: negative time_reply_ns", lps_mc_add_result(mc, &r), INVALID);
    r.time_reply_ns = 2;

    bytes = calloc(too_long, 1);
    many = calloc(too_many, sizeof *many);
    if (CHECK("mc abuse: buffers", bytes && many)) {
        r.route.hops = many;
        r.route.hops_len = too_many;
        ABUSE("mc_add_result: hops above LPS_MAX_ARRAY_LEN", lps_mc_add_result(mc, &r), INVALID);
        r.route.hops = &hop;
        r.route.hops_len = 1;
        r.success = false;
        r.failure_message.ptr = bytes;
        r.failure_message.len = too_long;
        ABUSE("mc_add_result: failure_message above LPS_MAX_BYTES_LEN", lps_mc_add_result(mc, &r),
              INVALID);
    }
    expect_mc_untouched("mc abuse: nothing queued or stored", mc);
    CHECK("mc abuse: outs untouched", mc_out == H_SENTINEL && list == H_SENTINEL &&
                                          memcmp(&st, &st_sentinel, sizeof st) == 0);
    CHECK_OK("mc abuse: close", lps_mc_close(mc));
out:
    free(bytes);
    free(many);
    fixture_close(&f);
}

/* ---- status names ------------------------------------------------------------------ */

static void status_names(void) {
    static const struct {
        int code;
        const char *name;
    } known[] = {
        {0, "LPS_STATUS_OK"},
        {1, "LPS_STATUS_NULL_ARGUMENT"},
        {2, "LPS_STATUS_INVALID_ARGUMENT"},
        {3, "LPS_STATUS_IO"},
        {4, "LPS_STATUS_CORRUPT"},
        {5, "LPS_STATUS_LOCKED"},
        {6, "LPS_STATUS_VERSION"},
        {7, "LPS_STATUS_CLOSED"},
        {8, "LPS_STATUS_TIMEOUT"},
        {9, "LPS_STATUS_END_OF_STREAM"},
        {10, "LPS_STATUS_INTERNAL"},
        {11, "LPS_STATUS_FORKED"},
        {12, "LPS_STATUS_NOT_LEADER"},
        {100, "LPS_STATUS_PAYMENT_EXISTS"},
        {101, "LPS_STATUS_PAYMENT_IN_FLIGHT"},
        {102, "LPS_STATUS_ALREADY_PAID"},
        {103, "LPS_STATUS_PAYMENT_NOT_INITIATED"},
        {104, "LPS_STATUS_PAYMENT_ALREADY_SUCCEEDED"},
        {105, "LPS_STATUS_PAYMENT_ALREADY_FAILED"},
        {106, "LPS_STATUS_PAYMENT_PENDING_SETTLED"},
        {107, "LPS_STATUS_PAYMENT_PENDING_FAILED"},
        {108, "LPS_STATUS_ATTEMPT_NOT_FOUND"},
        {109, "LPS_STATUS_ATTEMPT_EXISTS"},
        {110, "LPS_STATUS_ATTEMPT_ALREADY_SETTLED"},
        {111, "LPS_STATUS_ATTEMPT_ALREADY_FAILED"},
        {112, "LPS_STATUS_VALUE_MISMATCH"},
        {113, "LPS_STATUS_VALUE_EXCEEDS_AMT"},
        {114, "LPS_STATUS_NON_MP_PAYMENT"},
        {115, "LPS_STATUS_MP_PAYMENT"},
        {116, "LPS_STATUS_MPP_PAYMENT_ADDR_MISMATCH"},
        {117, "LPS_STATUS_MPP_TOTAL_AMOUNT_MISMATCH"},
        {118, "LPS_STATUS_MPP_RECORD_IN_BLINDED_PAYMENT"},
        {119, "LPS_STATUS_BLINDED_TOTAL_AMOUNT_MISMATCH"},
        {120, "LPS_STATUS_MIXED_BLINDED_AND_NON_BLINDED"},
        {121, "LPS_STATUS_BLINDED_MISSING_TOTAL_AMOUNT"},
        {122, "LPS_STATUS_SENT_EXCEEDS_TOTAL"},
        {123, "LPS_STATUS_PREIMAGE_MISMATCH"},
        {124, "LPS_STATUS_SEQUENCE_NUM_EXISTS"},
    };
    static const int unknown[] = {99, 125, 200, 255, 1000, -1, INT_MAX, INT_MIN};
    char name[96];
    size_t i;

    CHECK_U64("status names: 38 documented", sizeof known / sizeof known[0], 38);
    for (i = 0; i < sizeof known / sizeof known[0]; i++) {
        const char *got = lps_status_name((LpsStatus)known[i].code);
        snprintf(name, sizeof name, "status name %d", known[i].code);
        CHECK(name, got != NULL && strcmp(got, known[i].name) == 0);
    }
    /* The header's enum agrees with the table. */
    CHECK("enum values", LPS_STATUS_INTERNAL == 10 && LPS_STATUS_PAYMENT_EXISTS == 100 &&
                             LPS_STATUS_PREIMAGE_MISMATCH == 123 &&
                             LPS_STATUS_SEQUENCE_NUM_EXISTS == 124);
    for (i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        const char *got = NULL;
        snprintf(name, sizeof name, "status name of unknown %d", unknown[i]);
        ABUSE_VOID(name, got = lps_status_name((LpsStatus)unknown[i]), -1);
        CHECK(name, got != NULL && strcmp(got, "LPS_STATUS_UNKNOWN") == 0);
    }
}

/* ---- the last error ---------------------------------------------------------------- */

typedef struct thread_error {
    LpsStore *store;
    LpsStatus status;
    char error[256];
} thread_error;

static void *fail_on_another_thread(void *arg) {
    thread_error *t = arg;
    t->status = lps_init_payment(t->store, NULL, NULL);
    snprintf(t->error, sizeof t->error, "%s", lps_last_error());
    return NULL;
}

static void last_error(void) {
    LpsPaymentCounts c;
    pthread_t th;
    thread_error t;
    const char *err;
    FIXTURE(f);

    CHECK_OK("last error: success", lps_payment_counts(f.s, &c));
    CHECK_STATUS("last error: failure", lps_init_payment(f.s, NULL, &f.ci), NULL_ARG);
    CHECK_STATUS("last error: still there", LPS_STATUS_NULL_ARGUMENT, NULL_ARG);
    err = lps_last_error();
    CHECK("last error: names the function", strstr(err, "lps_init_payment") != NULL);
    CHECK_OK("last error: cleared by the next success", lps_payment_counts(f.s, &c));
    CHECK_STATUS("last error: domain failure", lps_init_payment(f.s, f.a.hash, &f.ci),
                 LPS_STATUS_PAYMENT_IN_FLIGHT);
    CHECK_OK("last error: cleared again", lps_payment_counts(f.s, &c));

    /* Thread-local: a failure on another thread leaves this thread's "" alone. */
    memset(&t, 0, sizeof t);
    t.store = f.s;
    if (CHECK("last error: thread", pthread_create(&th, NULL, fail_on_another_thread, &t) == 0)) {
        pthread_join(th, NULL);
        CHECK_U64("last error: other thread's status", t.status, NULL_ARG);
        CHECK("last error: other thread's message", t.error[0] != '\0');
        CHECK("last error: this thread's message untouched", lps_last_error()[0] == '\0');
    }
    fixture_close(&f);
}

static const h_case cases[] = {
    {"null_pointer_arguments", null_pointer_arguments},
    {"null_frees", null_frees},
    {"null_with_length", null_with_length},
    {"custom_record_rules", custom_record_rules},
    {"enum_ranges", enum_ranges},
    {"length_limits", length_limits},
    {"paths", paths},
    {"mission_control_abuse", mission_control_abuse},
    {"status_names", status_names},
    {"last_error", last_error},
};

const h_suite abuse_suite = {"abuse", cases, sizeof cases / sizeof cases[0]};
