/* Life-cycle scenarios through the C ABI (docs/behaviour.md, Life cycle): single and
 * multi-shard payments, failures and re-init, double-pay protection, the
 * register/settle/fail rules, field round trips, queries, deletes, counts, restart and
 * resume, compaction. */

#define _XOPEN_SOURCE 700

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* ---- small helpers ----------------------------------------------------------------- */

#define PAID LPS_PAYMENT_STATUS_SUCCEEDED
#define FLIGHT LPS_PAYMENT_STATUS_IN_FLIGHT
#define INITIATED LPS_PAYMENT_STATUS_INITIATED
#define FAILED LPS_PAYMENT_STATUS_FAILED


static void settle_info(LpsSettleInfo *si, const uint8_t preimage[32], int64_t time_ns) {
    memcpy(si->preimage, preimage, 32);
    si->settle_time_ns = time_ns;
}

/* Number of htlcs of a stored payment (-1 when it cannot be fetched). */
static long htlc_count(LpsStore *s, const uint8_t hash[32]) {
    LpsPayment *p = NULL;
    long n;
    if (lps_fetch_payment(s, hash, &p) != LPS_STATUS_OK)
        return -1;
    n = (long)p->htlcs_len;
    lps_payment_free(p);
    return n;
}

/* An invalid registration: the expected status, `out` untouched, no attempt stored. */
static void expect_register_error(const char *name, LpsStore *s, const h_pay *p,
                                  const LpsAttemptInfo *attempt, LpsStatus want) {
    LpsPayment *out = H_SENTINEL;
    long before = htlc_count(s, p->hash);
    CHECK_STATUS(name, lps_register_attempt(s, p->hash, attempt, &out), want);
    CHECK(name, out == H_SENTINEL);
    CHECK(name, htlc_count(s, p->hash) == before);
}

static void expect_settle_error(const char *name, LpsStore *s, const h_pay *p, uint64_t id,
                                const uint8_t preimage[32], LpsStatus want) {
    LpsSettleInfo si;
    LpsPayment *out = H_SENTINEL;
    settle_info(&si, preimage, H_TIME);
    CHECK_STATUS(name, lps_settle_attempt(s, p->hash, id, &si, &out), want);
    CHECK(name, out == H_SENTINEL);
}

static void expect_fail_error(const char *name, LpsStore *s, const h_pay *p, uint64_t id,
                              LpsStatus want) {
    LpsFailInfo fi;
    LpsPayment *out = H_SENTINEL;
    memset(&fi, 0, sizeof fi);
    CHECK_STATUS(name, lps_fail_attempt(s, p->hash, id, &fi, &out), want);
    CHECK(name, out == H_SENTINEL);
}

/* Registers an MPP shard of the test's usual address and returns the new state. */
static LpsPayment *register_shard(const char *name, LpsStore *s, const h_pay *p, uint64_t id,
                                  uint64_t amt, uint64_t total) {
    h_attempt a;
    LpsPayment *out = NULL;
    h_attempt_make(&a, id, amt, H_FEE);
    if (total)
        h_attempt_mpp(&a, 0xad, total);
    if (!CHECK_OK(name, lps_register_attempt(s, p->hash, &a.info, &out)))
        return NULL;
    CHECK(name, out != NULL);
    return out;
}

static LpsPayment *settle_shard(const char *name, LpsStore *s, const h_pay *p, uint64_t id) {
    LpsSettleInfo si;
    LpsPayment *out = NULL;
    settle_info(&si, p->preimage, H_TIME + 7);
    if (!CHECK_OK(name, lps_settle_attempt(s, p->hash, id, &si, &out)))
        return NULL;
    CHECK(name, out != NULL);
    return out;
}

static LpsPayment *fail_shard(const char *name, LpsStore *s, const h_pay *p, uint64_t id,
                              const LpsFailInfo *fi) {
    LpsFailInfo plain;
    LpsPayment *out = NULL;
    if (!fi) {
        memset(&plain, 0, sizeof plain);
        fi = &plain;
    }
    if (!CHECK_OK(name, lps_fail_attempt(s, p->hash, id, fi, &out)))
        return NULL;
    CHECK(name, out != NULL);
    return out;
}

static LpsPayment *fail_payment(const char *name, LpsStore *s, const h_pay *p,
                                uint8_t reason) {
    LpsPayment *out = NULL;
    if (!CHECK_OK(name, lps_fail_payment(s, p->hash, reason, &out)))
        return NULL;
    CHECK(name, out != NULL);
    return out;
}

/* A settled single-shard payment of `value`. */
static void pay_in_full(const char *name, LpsStore *s, const h_pay *p, uint64_t value) {
    h_init(name, s, p, value);
    h_register(name, s, p, 1, value, 0);
    h_settle(name, s, p, 1);
}

/* ---- cases ------------------------------------------------------------------------- */

static void library_info(void) {
    LpsOptions o;
    const char *v = lps_version();
    h_env e;
    CHECK_U64("lps_abi_version == LPS_ABI_VERSION", lps_abi_version(), LPS_ABI_VERSION);
    CHECK("lps_version is a non-empty string", v != NULL && v[0] != '\0');
    memset(&o, 0xab, sizeof o);
    lps_options_default(&o);
    CHECK("lps_options_default leaves no error", lps_last_error()[0] == '\0');
    CHECK_U64("default max_batch_size", o.max_batch_size, 1000);
    CHECK_U64("default max_batch_delay_us", o.max_batch_delay_us, 0);
    CHECK("default cache_size_bytes is set", o.cache_size_bytes > 0);
    CHECK("default options are durable", o.no_sync == false);

    /* lps_payment_hash agrees with the harness's own SHA-256 (tests/c/sha256.c). */
    {
        uint8_t preimage[32], want[32], got[32];
        int i;
        for (i = 0; i < 32; i++)
            preimage[i] = (uint8_t)(i * 7 + 1);
        sha256(preimage, 32, want);
        CHECK_OK("lps_payment_hash", lps_payment_hash(preimage, got));
        CHECK_MEM("lps_payment_hash is SHA-256", got, want, 32);
    }

    /* opts NULL = defaults (durable): one payment through a default store. */
    if (!h_make_tempdir(e.dir, sizeof e.dir))
        return;
    snprintf(e.path, sizeof e.path, "%s/default.db", e.dir);
    e.store = NULL;
    if (CHECK_OK("open with opts NULL", lps_store_open(e.path, NULL, &e.store))) {
        h_pay p;
        h_pay_make(&p, 1);
        pay_in_full("default store: pay", e.store, &p, 1000);
        h_expect_counts("default store", e.store, 1, 0, 0, 1, 0);
    }
    h_env_close(&e);
}

static void single_shard(void) {
    h_env e;
    h_pay p;
    h_attempt a;
    LpsCreationInfo ci;
    LpsSettleInfo si;
    LpsPayment *pay, *out = NULL;
    uint64_t seq;

    ENV_OPEN(&e);
    h_pay_make(&p, 1);
    h_creation(&ci, &p, 10000, H_TIME);
    CHECK_OK("single: init", lps_init_payment(e.store, p.hash, &ci));
    h_expect_counts("single: after init", e.store, 1, 1, 0, 0, 0);

    pay = h_fetch("single: fetch initiated", e.store, p.hash);
    h_expect_state("single: initiated", pay, INITIATED, 0, 10000, 0, false, false);
    h_expect_decisions("single: initiated", pay, false, false, true);
    if (pay) {
        CHECK("single: sequence number assigned", pay->sequence_num >= 1);
        CHECK_MEM("single: payment_hash", pay->payment_hash, p.hash, 32);
        CHECK_MEM("single: payment_identifier", pay->info.payment_identifier, p.hash, 32);
        CHECK_U64("single: value_msat", pay->info.value_msat, 10000);
        CHECK_U64("single: creation_time_ns", pay->info.creation_time_ns, H_TIME);
        CHECK_U64("single: no htlcs", pay->htlcs_len, 0);
        CHECK("single: no failure reason", !pay->has_failure_reason);
    }
    seq = pay ? pay->sequence_num : 0;
    lps_payment_free(pay);

    h_attempt_make(&a, 1, 10000, 150);
    CHECK_OK("single: register", lps_register_attempt(e.store, p.hash, &a.info, &out));
    h_expect_state("single: registered", out, FLIGHT, 1, 0, 150, false, false);
    h_expect_decisions("single: registered", out, false, true, false);
    if (out) {
        CHECK_U64("single: one htlc", out->htlcs_len, 1);
        CHECK_U64("single: attempt id", out->htlcs[0].info.attempt_id, 1);
        CHECK("single: attempt neither settled nor failed",
              out->htlcs[0].settle == NULL && out->htlcs[0].failure == NULL);
        CHECK_U64("single: sequence kept", out->sequence_num, seq);
    }
    lps_payment_free(out);
    h_expect_counts("single: after register", e.store, 1, 0, 1, 0, 0);

    out = NULL;
    settle_info(&si, p.preimage, H_TIME + 42);
    CHECK_OK("single: settle", lps_settle_attempt(e.store, p.hash, 1, &si, &out));
    h_expect_state("single: settled", out, PAID, 0, 0, 150, true, false);
    h_expect_decisions("single: settled", out, true, false, false);
    if (out && CHECK("single: settle info present", out->htlcs_len == 1 && out->htlcs[0].settle)) {
        CHECK_MEM("single: settle preimage", out->htlcs[0].settle->preimage, p.preimage, 32);
        CHECK_U64("single: settle time", out->htlcs[0].settle->settle_time_ns, H_TIME + 42);
    }
    lps_payment_free(out);
    h_expect_counts("single: after settle", e.store, 1, 0, 0, 1, 0);

    /* A fresh read agrees with the returned state. */
    pay = h_fetch("single: fetch settled", e.store, p.hash);
    h_expect_state("single: fetched settled", pay, PAID, 0, 0, 150, true, false);
    lps_payment_free(pay);

    /* Optional out NULL works as well. */
    {
        h_pay q;
        h_pay_make(&q, 2);
        h_init("single: second init", e.store, &q, 500);
        h_attempt_make(&a, 1, 500, 0);
        CHECK_OK("single: register with out NULL",
                 lps_register_attempt(e.store, q.hash, &a.info, NULL));
        settle_info(&si, q.preimage, H_TIME);
        CHECK_OK("single: settle with out NULL",
                 lps_settle_attempt(e.store, q.hash, 1, &si, NULL));
        h_expect_counts("single: two settled", e.store, 2, 0, 0, 2, 0);
    }
    h_env_close(&e);
}

static void mpp_failed_shard_retried(void) {
    h_env e;
    h_pay p;
    h_attempt a;
    LpsFailInfo fi;
    LpsPayment *out;
    static const uint8_t msg[] = {0x10, 0x07, 't', 'e', 'm', 'p', 'f', 'a', 'i', 'l'};

    ENV_OPEN(&e);
    h_pay_make(&p, 1);
    h_init("mpp: init", e.store, &p, 30000);

    out = register_shard("mpp: shard 1", e.store, &p, 1, 10000, 30000);
    h_expect_state("mpp: shard 1", out, FLIGHT, 1, 20000, 100, false, false);
    h_expect_decisions("mpp: shard 1", out, false, false, true);
    lps_payment_free(out);

    out = register_shard("mpp: shard 2", e.store, &p, 2, 20000, 30000);
    h_expect_state("mpp: shard 2", out, FLIGHT, 2, 0, 200, false, false);
    h_expect_decisions("mpp: shard 2", out, false, true, false);
    lps_payment_free(out);
    h_expect_counts("mpp: two shards", e.store, 1, 0, 1, 0, 0);

    h_attempt_make(&a, 9, 1, H_FEE);
    h_attempt_mpp(&a, 0xad, 30000);
    expect_register_error("mpp: overpaying shard", e.store, &p, &a.info,
                          LPS_STATUS_VALUE_EXCEEDS_AMT);

    memset(&fi, 0, sizeof fi);
    fi.fail_time_ns = H_TIME + 99;
    fi.message.ptr = msg;
    fi.message.len = sizeof msg;
    fi.reason = LPS_HTLC_FAIL_REASON_MESSAGE;
    fi.failure_source_index = 1;
    out = fail_shard("mpp: fail shard 2", e.store, &p, 2, &fi);
    h_expect_state("mpp: shard 2 failed", out, FLIGHT, 1, 20000, 100, false, false);
    h_expect_decisions("mpp: shard 2 failed", out, false, false, true);
    if (out && CHECK("mpp: failure recorded", out->htlcs_len == 2 && out->htlcs[1].failure)) {
        const LpsFailInfo *f = out->htlcs[1].failure;
        CHECK_U64("mpp: fail time", f->fail_time_ns, H_TIME + 99);
        CHECK_U64("mpp: fail reason", f->reason, LPS_HTLC_FAIL_REASON_MESSAGE);
        CHECK_U64("mpp: failure source index", f->failure_source_index, 1);
        CHECK("mpp: fail message", f->message.len == sizeof msg &&
                                       memcmp(f->message.ptr, msg, sizeof msg) == 0);
    }
    lps_payment_free(out);

    out = register_shard("mpp: retry as shard 3", e.store, &p, 3, 20000, 30000);
    h_expect_state("mpp: shard 3", out, FLIGHT, 2, 0, 200, false, false);
    h_expect_decisions("mpp: shard 3", out, false, true, false);
    lps_payment_free(out);

    out = settle_shard("mpp: settle shard 1", e.store, &p, 1);
    h_expect_state("mpp: shard 1 settled", out, FLIGHT, 1, 0, 200, true, false);
    h_expect_decisions("mpp: shard 1 settled", out, false, true, false);
    lps_payment_free(out);

    h_attempt_make(&a, 4, 1000, H_FEE);
    h_attempt_mpp(&a, 0xad, 30000);
    expect_register_error("mpp: shard after a settle", e.store, &p, &a.info,
                          LPS_STATUS_PAYMENT_PENDING_SETTLED);

    out = settle_shard("mpp: settle shard 3", e.store, &p, 3);
    h_expect_state("mpp: settled", out, PAID, 0, 0, 200, true, false);
    h_expect_decisions("mpp: settled", out, true, false, false);
    if (out && CHECK("mpp: three htlcs", out->htlcs_len == 3)) {
        CHECK("mpp: ascending attempt ids", out->htlcs[0].info.attempt_id == 1 &&
                                                out->htlcs[1].info.attempt_id == 2 &&
                                                out->htlcs[2].info.attempt_id == 3);
        CHECK("mpp: outcomes", out->htlcs[0].settle && !out->htlcs[0].failure &&
                                   !out->htlcs[1].settle && out->htlcs[1].failure &&
                                   out->htlcs[2].settle && !out->htlcs[2].failure);
    }
    lps_payment_free(out);
    h_expect_counts("mpp: done", e.store, 1, 0, 0, 1, 0);
    h_env_close(&e);
}

static void fail_payment_then_reinit(void) {
    h_env e;
    h_pay p, q;
    LpsPayment *out, *pay;
    uint64_t old_seq = 0;

    ENV_OPEN(&e);
    h_pay_make(&p, 1);
    h_init("reinit: init", e.store, &p, 5000);
    h_register("reinit: register", e.store, &p, 1, 5000, 0);
    out = fail_shard("reinit: fail the only shard", e.store, &p, 1, NULL);
    /* All shards failed, no failure reason: still IN_FLIGHT, the router may retry. */
    h_expect_state("reinit: all shards failed", out, FLIGHT, 0, 5000, 0, false, false);
    h_expect_decisions("reinit: all shards failed", out, false, false, true);
    lps_payment_free(out);
    h_expect_counts("reinit: all shards failed", e.store, 1, 0, 1, 0, 0);

    out = fail_payment("reinit: fail payment", e.store, &p, LPS_FAILURE_REASON_NO_ROUTE);
    h_expect_state("reinit: failed", out, FAILED, 0, 5000, 0, false, true);
    h_expect_decisions("reinit: failed", out, true, false, false);
    if (out) {
        CHECK("reinit: failure reason set", out->has_failure_reason);
        CHECK_U64("reinit: failure reason", out->failure_reason, LPS_FAILURE_REASON_NO_ROUTE);
        old_seq = out->sequence_num;
    }
    lps_payment_free(out);
    h_expect_counts("reinit: failed", e.store, 1, 0, 0, 0, 1);

    {
        h_attempt a;
        h_attempt_make(&a, 2, 5000, H_FEE);
        expect_register_error("reinit: register on a failed payment", e.store, &p, &a.info,
                              LPS_STATUS_PAYMENT_ALREADY_FAILED);
    }

    CHECK("reinit: re-init a failed payment", h_init("reinit: init again", e.store, &p, 6000));
    pay = h_fetch("reinit: fetch", e.store, p.hash);
    h_expect_state("reinit: re-initiated", pay, INITIATED, 0, 6000, 0, false, false);
    if (pay) {
        CHECK("reinit: fresh sequence number", pay->sequence_num > old_seq);
        CHECK_U64("reinit: old attempts removed", pay->htlcs_len, 0);
        CHECK("reinit: failure reason removed", !pay->has_failure_reason);
        CHECK_U64("reinit: new value", pay->info.value_msat, 6000);
    }
    lps_payment_free(pay);
    h_expect_counts("reinit: re-initiated", e.store, 1, 1, 0, 0, 0);

    h_register("reinit: register", e.store, &p, 1, 6000, 0);
    h_settle("reinit: settle", e.store, &p, 1);
    h_expect_counts("reinit: settled", e.store, 1, 0, 0, 1, 0);

    /* A payment without attempts fails at once. */
    h_pay_make(&q, 2);
    h_init("reinit: second payment", e.store, &q, 100);
    out = fail_payment("reinit: fail without attempts", e.store, &q, LPS_FAILURE_REASON_TIMEOUT);
    h_expect_state("reinit: failed without attempts", out, FAILED, 0, 100, 0, false, true);
    if (out)
        CHECK_U64("reinit: reason timeout", out->failure_reason, LPS_FAILURE_REASON_TIMEOUT);
    lps_payment_free(out);
    h_expect_counts("reinit: one of each", e.store, 2, 0, 0, 1, 1);
    h_env_close(&e);
}

static void fail_payment_with_shard_in_flight(void) {
    h_env e;
    h_pay p, q;
    h_attempt a;
    LpsPayment *out;

    ENV_OPEN(&e);
    h_pay_make(&p, 1);
    h_init("inflight-fail: init", e.store, &p, 10000);
    lps_payment_free(register_shard("inflight-fail: shard 1", e.store, &p, 1, 4000, 10000));
    out = fail_payment("inflight-fail: fail payment", e.store, &p,
                       LPS_FAILURE_REASON_INSUFFICIENT_BALANCE);
    /* The shard is still out: IN_FLIGHT with a failure reason; wait, no new shards. */
    h_expect_state("inflight-fail: reason recorded", out, FLIGHT, 1, 6000, 100, false, true);
    h_expect_decisions("inflight-fail: reason recorded", out, false, true, false);
    lps_payment_free(out);

    h_attempt_make(&a, 2, 1000, H_FEE);
    h_attempt_mpp(&a, 0xad, 10000);
    expect_register_error("inflight-fail: no new shard", e.store, &p, &a.info,
                          LPS_STATUS_PAYMENT_PENDING_FAILED);

    out = fail_payment("inflight-fail: overwrite reason", e.store, &p,
                       LPS_FAILURE_REASON_CANCELED);
    if (out)
        CHECK_U64("inflight-fail: reason overwritten", out->failure_reason,
                  LPS_FAILURE_REASON_CANCELED);
    lps_payment_free(out);
    h_expect_counts("inflight-fail: still in flight", e.store, 1, 0, 1, 0, 0);

    out = fail_shard("inflight-fail: last shard fails", e.store, &p, 1, NULL);
    h_expect_state("inflight-fail: failed", out, FAILED, 0, 10000, 0, false, true);
    lps_payment_free(out);
    h_expect_counts("inflight-fail: failed", e.store, 1, 0, 0, 0, 1);

    /* A shard that settles after the router gave up still makes the payment SUCCEEDED,
     * and a payment with a settled shard has not failed (payment_failed false). */
    h_pay_make(&q, 2);
    h_init("inflight-fail: second", e.store, &q, 700);
    h_register("inflight-fail: second register", e.store, &q, 1, 700, 0);
    lps_payment_free(fail_payment("inflight-fail: second gives up", e.store, &q,
                                  LPS_FAILURE_REASON_TIMEOUT));
    out = settle_shard("inflight-fail: second settles", e.store, &q, 1);
    h_expect_state("inflight-fail: settled after giving up", out, PAID, 0, 0, 100, true, false);
    lps_payment_free(out);
    {
        LpsCreationInfo ci;
        h_creation(&ci, &q, 700, H_TIME);
        CHECK_STATUS("inflight-fail: settled hash is paid",
                     lps_init_payment(e.store, q.hash, &ci), LPS_STATUS_ALREADY_PAID);
    }
    h_expect_counts("inflight-fail: one of each", e.store, 2, 0, 0, 1, 1);
    h_env_close(&e);
}

static void init_conflicts(void) {
    h_env e;
    h_pay p;
    LpsCreationInfo ci;

    ENV_OPEN(&e);
    h_pay_make(&p, 1);
    h_creation(&ci, &p, 2000, H_TIME);
    h_init("conflicts: init", e.store, &p, 2000);
    CHECK_STATUS("conflicts: init twice", lps_init_payment(e.store, p.hash, &ci),
                 LPS_STATUS_PAYMENT_EXISTS);
    h_expect_counts("conflicts: initiated", e.store, 1, 1, 0, 0, 0);
    h_register("conflicts: register", e.store, &p, 1, 2000, 0);
    CHECK_STATUS("conflicts: init in flight", lps_init_payment(e.store, p.hash, &ci),
                 LPS_STATUS_PAYMENT_IN_FLIGHT);
    h_fail_attempt("conflicts: fail shard", e.store, &p, 1);
    CHECK_STATUS("conflicts: init with every shard failed",
                 lps_init_payment(e.store, p.hash, &ci), LPS_STATUS_PAYMENT_IN_FLIGHT);
    CHECK_U64("conflicts: attempts kept", htlc_count(e.store, p.hash), 1);
    h_expect_counts("conflicts: in flight", e.store, 1, 0, 1, 0, 0);
    h_env_close(&e);
}

static void double_pay_protection(void) {
    h_env e;
    h_pay p, q;
    LpsCreationInfo ci;
    LpsPayment *out = H_SENTINEL;
    uint64_t deleted = 0;

    ENV_OPEN(&e);
    h_pay_make(&p, 1);
    h_pay_make(&q, 2);
    pay_in_full("double-pay: pay", e.store, &p, 3000);
    h_creation(&ci, &p, 3000, H_TIME);
    CHECK_STATUS("double-pay: init after success", lps_init_payment(e.store, p.hash, &ci),
                 LPS_STATUS_ALREADY_PAID);
    CHECK_OK("double-pay: delete the succeeded payment",
             lps_delete_payment(e.store, p.hash, false));
    CHECK_STATUS("double-pay: deleted payment is gone", lps_fetch_payment(e.store, p.hash, &out),
                 LPS_STATUS_PAYMENT_NOT_INITIATED);
    CHECK("double-pay: out untouched", out == H_SENTINEL);
    h_expect_counts("double-pay: deleted", e.store, 0, 0, 0, 0, 0);
    CHECK_STATUS("double-pay: init after delete", lps_init_payment(e.store, p.hash, &ci),
                 LPS_STATUS_ALREADY_PAID);

    /* The same through bulk deletion. */
    pay_in_full("double-pay: pay q", e.store, &q, 100);
    CHECK_OK("double-pay: delete all", lps_delete_payments(e.store, false, false, &deleted));
    CHECK_U64("double-pay: one deleted", deleted, 1);
    h_creation(&ci, &q, 100, H_TIME);
    CHECK_STATUS("double-pay: init after bulk delete", lps_init_payment(e.store, q.hash, &ci),
                 LPS_STATUS_ALREADY_PAID);

    /* And across a restart. */
    if (h_env_reopen(&e)) {
        h_creation(&ci, &p, 3000, H_TIME);
        CHECK_STATUS("double-pay: init after restart", lps_init_payment(e.store, p.hash, &ci),
                     LPS_STATUS_ALREADY_PAID);
        h_creation(&ci, &q, 100, H_TIME);
        CHECK_STATUS("double-pay: init q after restart",
                     lps_init_payment(e.store, q.hash, &ci), LPS_STATUS_ALREADY_PAID);
        h_expect_counts("double-pay: nothing stored", e.store, 0, 0, 0, 0, 0);
    }
    h_env_close(&e);
}

static void register_errors(void) {
    h_env e;
    h_pay single, mpp, unknown;
    h_attempt a;

    ENV_OPEN(&e);
    h_pay_make(&single, 1);
    h_pay_make(&mpp, 2);
    h_pay_make(&unknown, 3);

    /* A non-MPP payment. */
    h_init("register: init single", e.store, &single, 10000);
    h_attempt_make(&a, 1, 9000, H_FEE);
    expect_register_error("register: VALUE_MISMATCH", e.store, &single, &a.info,
                          LPS_STATUS_VALUE_MISMATCH);
    h_register("register: exact value", e.store, &single, 1, 10000, 0);
    h_attempt_make(&a, 2, 5000, H_FEE);
    h_attempt_mpp(&a, 0xad, 10000);
    expect_register_error("register: NON_MP_PAYMENT", e.store, &single, &a.info,
                          LPS_STATUS_NON_MP_PAYMENT);
    h_attempt_make(&a, 2, 10000, H_FEE);
    expect_register_error("register: second full shard", e.store, &single, &a.info,
                          LPS_STATUS_VALUE_EXCEEDS_AMT);

    /* An MPP payment. */
    h_init("register: init mpp", e.store, &mpp, 10000);
    h_register("register: shard 1", e.store, &mpp, 1, 3000, 10000);
    h_attempt_make(&a, 2, 10000, H_FEE);
    expect_register_error("register: MP_PAYMENT", e.store, &mpp, &a.info,
                          LPS_STATUS_MP_PAYMENT);
    h_attempt_make(&a, 2, 1000, H_FEE);
    h_attempt_mpp(&a, 0xbe, 10000);
    expect_register_error("register: MPP_PAYMENT_ADDR_MISMATCH", e.store, &mpp, &a.info,
                          LPS_STATUS_MPP_PAYMENT_ADDR_MISMATCH);
    h_attempt_make(&a, 2, 1000, H_FEE);
    h_attempt_mpp(&a, 0xad, 20000);
    expect_register_error("register: MPP_TOTAL_AMOUNT_MISMATCH", e.store, &mpp, &a.info,
                          LPS_STATUS_MPP_TOTAL_AMOUNT_MISMATCH);
    h_attempt_make(&a, 2, 7001, H_FEE);
    h_attempt_mpp(&a, 0xad, 10000);
    expect_register_error("register: VALUE_EXCEEDS_AMT", e.store, &mpp, &a.info,
                          LPS_STATUS_VALUE_EXCEEDS_AMT);
    h_attempt_make(&a, 1, 1000, H_FEE);
    h_attempt_mpp(&a, 0xad, 10000);
    expect_register_error("register: ATTEMPT_EXISTS", e.store, &mpp, &a.info,
                          LPS_STATUS_ATTEMPT_EXISTS);
    h_attempt_make(&a, 2, 1000, H_FEE);
    h_attempt_mpp(&a, 0xad, 10000);
    a.info.route.hops_len = 0;
    a.info.route.hops = NULL;
    expect_register_error("register: empty route", e.store, &mpp, &a.info,
                          LPS_STATUS_INVALID_ARGUMENT);
    h_register("register: shard 2 fits exactly", e.store, &mpp, 2, 7000, 10000);

    h_attempt_make(&a, 1, 10000, H_FEE);
    expect_register_error("register: PAYMENT_NOT_INITIATED", e.store, &unknown, &a.info,
                          LPS_STATUS_PAYMENT_NOT_INITIATED);
    h_expect_counts("register: after errors", e.store, 2, 0, 2, 0, 0);
    h_env_close(&e);
}

/* Makes the final hop of `a` blinded: encrypted data and (if non-zero) a total. */
static void blind(h_attempt *a, uint64_t total_amt) {
    static const uint8_t enc[] = {0xe1, 0xe2, 0xe3, 0xe4};
    a->hops[1].encrypted_data.ptr = enc;
    a->hops[1].encrypted_data.len = sizeof enc;
    a->hops[1].total_amt_msat = total_amt;
}

static void blinded_register_errors(void) {
    h_env e;
    h_pay p;
    h_attempt a;
    LpsPayment *out = NULL;

    ENV_OPEN(&e);
    h_pay_make(&p, 1);
    h_init("blinded: init", e.store, &p, 10000);

    h_attempt_make(&a, 1, 4000, H_FEE);
    blind(&a, 0);
    expect_register_error("blinded: BLINDED_MISSING_TOTAL_AMOUNT", e.store, &p, &a.info,
                          LPS_STATUS_BLINDED_MISSING_TOTAL_AMOUNT);
    h_attempt_make(&a, 1, 4000, H_FEE);
    blind(&a, 10000);
    h_attempt_mpp(&a, 0xad, 10000);
    expect_register_error("blinded: MPP_RECORD_IN_BLINDED_PAYMENT", e.store, &p, &a.info,
                          LPS_STATUS_MPP_RECORD_IN_BLINDED_PAYMENT);

    /* A blinded shard below the value is fine (no VALUE_MISMATCH for blinded routes). */
    h_attempt_make(&a, 1, 4000, H_FEE);
    blind(&a, 10000);
    CHECK_OK("blinded: shard 1", lps_register_attempt(e.store, p.hash, &a.info, NULL));

    h_attempt_make(&a, 2, 10000, H_FEE);
    expect_register_error("blinded: MIXED_BLINDED_AND_NON_BLINDED", e.store, &p, &a.info,
                          LPS_STATUS_MIXED_BLINDED_AND_NON_BLINDED);
    h_attempt_make(&a, 2, 2000, H_FEE);
    blind(&a, 9000);
    expect_register_error("blinded: BLINDED_TOTAL_AMOUNT_MISMATCH", e.store, &p, &a.info,
                          LPS_STATUS_BLINDED_TOTAL_AMOUNT_MISMATCH);
    h_attempt_make(&a, 2, 7000, H_FEE);
    blind(&a, 10000);
    expect_register_error("blinded: VALUE_EXCEEDS_AMT", e.store, &p, &a.info,
                          LPS_STATUS_VALUE_EXCEEDS_AMT);

    h_attempt_make(&a, 2, 6000, H_FEE);
    blind(&a, 10000);
    CHECK_OK("blinded: shard 2", lps_register_attempt(e.store, p.hash, &a.info, &out));
    h_expect_state("blinded: both shards", out, FLIGHT, 2, 0, 200, false, false);
    lps_payment_free(out);
    h_settle("blinded: settle 1", e.store, &p, 1);
    h_settle("blinded: settle 2", e.store, &p, 2);
    h_expect_counts("blinded: settled", e.store, 1, 0, 0, 1, 0);
    h_env_close(&e);
}

static void settle_and_fail_errors(void) {
    h_env e;
    h_pay p, failed, unknown;
    uint8_t wrong[32];
    LpsPayment *out = H_SENTINEL;
    LpsSubscription *sub = H_SENTINEL;

    ENV_OPEN(&e);
    h_pay_make(&p, 1);
    h_pay_make(&failed, 2);
    h_pay_make(&unknown, 3);
    memset(wrong, 0x42, sizeof wrong);

    h_init("settle: init", e.store, &p, 10000);
    h_register("settle: shard 1", e.store, &p, 1, 5000, 10000);
    h_register("settle: shard 2", e.store, &p, 2, 5000, 10000);
    expect_settle_error("settle: ATTEMPT_NOT_FOUND", e.store, &p, 99, p.preimage,
                        LPS_STATUS_ATTEMPT_NOT_FOUND);
    expect_fail_error("fail: ATTEMPT_NOT_FOUND", e.store, &p, 99, LPS_STATUS_ATTEMPT_NOT_FOUND);
    expect_settle_error("settle: PREIMAGE_MISMATCH", e.store, &p, 1, wrong,
                        LPS_STATUS_PREIMAGE_MISMATCH);
    {
        LpsPayment *pay = h_fetch("settle: after mismatch", e.store, p.hash);
        if (pay && pay->htlcs_len == 2)
            CHECK("settle: no false proof recorded", pay->htlcs[0].settle == NULL);
        h_expect_state("settle: unchanged", pay, FLIGHT, 2, 0, 200, false, false);
        lps_payment_free(pay);
    }
    h_fail_attempt("fail: shard 2", e.store, &p, 2);
    expect_settle_error("settle: ATTEMPT_ALREADY_FAILED", e.store, &p, 2, p.preimage,
                        LPS_STATUS_ATTEMPT_ALREADY_FAILED);
    expect_fail_error("fail: ATTEMPT_ALREADY_FAILED", e.store, &p, 2,
                      LPS_STATUS_ATTEMPT_ALREADY_FAILED);
    h_register("settle: shard 3", e.store, &p, 3, 5000, 10000);
    h_settle("settle: shard 1", e.store, &p, 1);
    expect_settle_error("settle: ATTEMPT_ALREADY_SETTLED", e.store, &p, 1, p.preimage,
                        LPS_STATUS_ATTEMPT_ALREADY_SETTLED);
    expect_fail_error("fail: ATTEMPT_ALREADY_SETTLED", e.store, &p, 1,
                      LPS_STATUS_ATTEMPT_ALREADY_SETTLED);
    h_settle("settle: shard 3", e.store, &p, 3);
    expect_settle_error("settle: PAYMENT_ALREADY_SUCCEEDED", e.store, &p, 3, p.preimage,
                        LPS_STATUS_PAYMENT_ALREADY_SUCCEEDED);
    expect_fail_error("fail: PAYMENT_ALREADY_SUCCEEDED", e.store, &p, 3,
                      LPS_STATUS_PAYMENT_ALREADY_SUCCEEDED);

    h_init("settle: init failed", e.store, &failed, 100);
    lps_payment_free(fail_payment("settle: fail payment", e.store, &failed,
                                  LPS_FAILURE_REASON_ERROR));
    expect_settle_error("settle: PAYMENT_ALREADY_FAILED", e.store, &failed, 1,
                        failed.preimage, LPS_STATUS_PAYMENT_ALREADY_FAILED);
    expect_fail_error("fail: PAYMENT_ALREADY_FAILED", e.store, &failed, 1,
                      LPS_STATUS_PAYMENT_ALREADY_FAILED);

    /* Every call naming an unknown hash. */
    expect_settle_error("settle: unknown hash", e.store, &unknown, 1, unknown.preimage,
                        LPS_STATUS_PAYMENT_NOT_INITIATED);
    expect_fail_error("fail: unknown hash", e.store, &unknown, 1,
                      LPS_STATUS_PAYMENT_NOT_INITIATED);
    CHECK_STATUS("fail_payment: unknown hash",
                 lps_fail_payment(e.store, unknown.hash, LPS_FAILURE_REASON_ERROR, &out),
                 LPS_STATUS_PAYMENT_NOT_INITIATED);
    CHECK_STATUS("fetch: unknown hash", lps_fetch_payment(e.store, unknown.hash, &out),
                 LPS_STATUS_PAYMENT_NOT_INITIATED);
    CHECK("unknown hash: out untouched", out == H_SENTINEL);
    CHECK_STATUS("delete: unknown hash", lps_delete_payment(e.store, unknown.hash, false),
                 LPS_STATUS_PAYMENT_NOT_INITIATED);
    CHECK_STATUS("delete_failed_attempts: unknown hash",
                 lps_delete_failed_attempts(e.store, unknown.hash),
                 LPS_STATUS_PAYMENT_NOT_INITIATED);
    CHECK_STATUS("subscribe: unknown hash", lps_subscribe_payment(e.store, unknown.hash, &sub),
                 LPS_STATUS_PAYMENT_NOT_INITIATED);
    CHECK("subscribe: out untouched", sub == H_SENTINEL);
    h_expect_counts("settle: after errors", e.store, 2, 0, 0, 1, 1);
    h_env_close(&e);
}

/* ---- round trips ------------------------------------------------------------------- */

static void expect_bytes(const char *name, LpsBytes got, const void *want, size_t len) {
    if (!CHECK_U64(name, got.len, len))
        return;
    if (len)
        CHECK(name, got.ptr != NULL && memcmp(got.ptr, want, len) == 0);
}

/* Same set of records, in any order. */
static void expect_records(const char *name, const LpsRecord *got, size_t got_len,
                           const LpsRecord *want, size_t want_len) {
    size_t i, j;
    if (!CHECK_U64(name, got_len, want_len))
        return;
    for (i = 0; i < want_len; i++) {
        for (j = 0; j < got_len && got[j].type != want[i].type; j++) {
        }
        if (CHECK(name, j < got_len))
            expect_bytes(name, got[j].value, want[i].value.ptr, want[i].value.len);
    }
}

static void expect_hop(const char *name, const LpsHop *g, const LpsHop *w) {
    CHECK_MEM(name, g->pub_key, w->pub_key, 33);
    CHECK_U64(name, g->channel_id, w->channel_id);
    CHECK_U64(name, g->outgoing_time_lock, w->outgoing_time_lock);
    CHECK_U64(name, g->amt_to_forward_msat, w->amt_to_forward_msat);
    CHECK_U64(name, g->legacy_payload, w->legacy_payload);
    if (CHECK(name, (g->mpp == NULL) == (w->mpp == NULL)) && w->mpp) {
        CHECK_MEM(name, g->mpp->payment_addr, w->mpp->payment_addr, 32);
        CHECK_U64(name, g->mpp->total_msat, w->mpp->total_msat);
    }
    if (CHECK(name, (g->amp == NULL) == (w->amp == NULL)) && w->amp) {
        CHECK_MEM(name, g->amp->root_share, w->amp->root_share, 32);
        CHECK_MEM(name, g->amp->set_id, w->amp->set_id, 32);
        CHECK_U64(name, g->amp->child_index, w->amp->child_index);
    }
    expect_bytes(name, g->encrypted_data, w->encrypted_data.ptr, w->encrypted_data.len);
    if (CHECK(name, (g->blinding_point == NULL) == (w->blinding_point == NULL)) &&
        w->blinding_point)
        CHECK_MEM(name, g->blinding_point, w->blinding_point, 33);
    expect_bytes(name, g->metadata, w->metadata.ptr, w->metadata.len);
    CHECK_U64(name, g->total_amt_msat, w->total_amt_msat);
    expect_records(name, g->custom_records, g->custom_records_len, w->custom_records,
                   w->custom_records_len);
}

static void expect_attempt(const char *name, const LpsAttemptInfo *g, const LpsAttemptInfo *w) {
    char n[200];
    size_t i;
    CHECK_U64(name, g->attempt_id, w->attempt_id);
    CHECK_MEM(name, g->session_key, w->session_key, 32);
    CHECK_U64(name, g->attempt_time_ns, w->attempt_time_ns);
    if (CHECK(name, (g->hash == NULL) == (w->hash == NULL)) && w->hash)
        CHECK_MEM(name, g->hash, w->hash, 32);
    CHECK_U64(name, g->route.total_time_lock, w->route.total_time_lock);
    CHECK_U64(name, g->route.total_amount_msat, w->route.total_amount_msat);
    CHECK_MEM(name, g->route.source_pub_key, w->route.source_pub_key, 33);
    CHECK_U64(name, g->route.first_hop_amount_msat, w->route.first_hop_amount_msat);
    expect_records(name, g->route.first_hop_wire_custom_records,
                   g->route.first_hop_wire_custom_records_len,
                   w->route.first_hop_wire_custom_records,
                   w->route.first_hop_wire_custom_records_len);
    if (!CHECK_U64(name, g->route.hops_len, w->route.hops_len))
        return;
    for (i = 0; i < w->route.hops_len; i++) {
        snprintf(n, sizeof n, "%s: hop %zu", name, i);
        expect_hop(n, &g->route.hops[i], &w->route.hops[i]);
    }
}

static void expect_creation(const char *name, const LpsCreationInfo *g,
                            const LpsCreationInfo *w) {
    CHECK_MEM(name, g->payment_identifier, w->payment_identifier, 32);
    CHECK_U64(name, g->value_msat, w->value_msat);
    CHECK_U64(name, g->creation_time_ns, w->creation_time_ns);
    expect_bytes(name, g->payment_request, w->payment_request.ptr, w->payment_request.len);
    expect_records(name, g->first_hop_custom_records, g->first_hop_custom_records_len,
                   w->first_hop_custom_records, w->first_hop_custom_records_len);
}

/* Every optional field set, checked after fetch and after a restart. */
static void roundtrip_every_field(void) {
    static const uint8_t request[] = "lnbc100n1p3roundtrip";
    static const uint8_t meta[] = {'m', 'e', 't', 'a'};
    static const uint8_t enc[] = {0xee, 0x01, 0x02};
    static uint8_t big[300];
    static const uint8_t wire[] = "wire";
    LpsRecord creation_records[3], hop0_records[1], final_records[2], wire_records[1];
    uint8_t blinding[33], shard_hash[32], shard_preimage[32];
    LpsHop hops[3];
    LpsMpp mpp;
    LpsAmp amp;
    LpsAttemptInfo at;
    LpsCreationInfo ci;
    LpsFailInfo fi;
    LpsSettleInfo si;
    h_env e;
    h_pay p, q;
    LpsPayment *pay;
    int round, i;

    ENV_OPEN(&e);
    h_pay_make(&p, 1);
    h_pay_make(&q, 2);
    for (i = 0; i < (int)sizeof big; i++)
        big[i] = (uint8_t)(i * 7);

    creation_records[0].type = 65536;
    creation_records[0].value.ptr = (const uint8_t *)"a";
    creation_records[0].value.len = 1;
    creation_records[1].type = 70000;
    creation_records[1].value.ptr = NULL; /* empty value */
    creation_records[1].value.len = 0;
    creation_records[2].type = 1ULL << 40;
    creation_records[2].value.ptr = big;
    creation_records[2].value.len = sizeof big;
    memset(&ci, 0, sizeof ci);
    memset(ci.payment_identifier, 0x11, 32);
    ci.value_msat = 10000;
    ci.creation_time_ns = H_TIME + 123456789;
    ci.payment_request.ptr = request;
    ci.payment_request.len = sizeof request - 1;
    ci.first_hop_custom_records = creation_records;
    ci.first_hop_custom_records_len = 3;
    CHECK_OK("roundtrip: init", lps_init_payment(e.store, p.hash, &ci));

    hop0_records[0].type = 65537;
    hop0_records[0].value.ptr = (const uint8_t *)"x";
    hop0_records[0].value.len = 1;
    final_records[0].type = 5482373484ULL; /* keysend */
    final_records[0].value.ptr = p.preimage;
    final_records[0].value.len = 32;
    final_records[1].type = 65536;
    final_records[1].value.ptr = (const uint8_t *)"bb";
    final_records[1].value.len = 2;
    wire_records[0].type = 65555;
    wire_records[0].value.ptr = wire;
    wire_records[0].value.len = sizeof wire - 1;
    memset(blinding, 0x02, sizeof blinding);
    blinding[32] = 0xb1;
    memset(hops, 0, sizeof hops);
    for (i = 0; i < 3; i++) {
        memset(hops[i].pub_key, 0x20 + i, 33);
        hops[i].channel_id = 0x0102030405060708ULL + (uint64_t)i;
        hops[i].outgoing_time_lock = 900100 - 40 * (uint32_t)i;
        hops[i].amt_to_forward_msat = 10000;
    }
    hops[0].legacy_payload = true;
    hops[0].custom_records = hop0_records;
    hops[0].custom_records_len = 1;
    hops[1].encrypted_data.ptr = enc; /* not the final hop: the route is not blinded */
    hops[1].encrypted_data.len = sizeof enc;
    hops[1].blinding_point = blinding;
    memset(mpp.payment_addr, 0x77, 32);
    mpp.total_msat = 10000;
    memset(amp.root_share, 0x88, 32);
    memset(amp.set_id, 0x99, 32);
    amp.child_index = 42;
    hops[2].mpp = &mpp;
    hops[2].amp = &amp;
    hops[2].metadata.ptr = meta;
    hops[2].metadata.len = sizeof meta;
    hops[2].custom_records = final_records;
    hops[2].custom_records_len = 2;

    /* The shard carries its own hash (AMP): settling needs its own preimage. */
    memset(shard_preimage, 0x5a, 32);
    sha256(shard_preimage, 32, shard_hash);
    memset(&at, 0, sizeof at);
    at.attempt_id = 7;
    for (i = 0; i < 32; i++)
        at.session_key[i] = (uint8_t)(0xa0 + i);
    at.route.total_time_lock = 900123;
    at.route.total_amount_msat = 10250;
    memset(at.route.source_pub_key, 0x03, 33);
    at.route.hops = hops;
    at.route.hops_len = 3;
    at.route.first_hop_amount_msat = 10200;
    at.route.first_hop_wire_custom_records = wire_records;
    at.route.first_hop_wire_custom_records_len = 1;
    at.attempt_time_ns = H_TIME + 555;
    at.hash = shard_hash;
    CHECK_OK("roundtrip: register", lps_register_attempt(e.store, p.hash, &at, NULL));

    /* A failed attempt on a second payment, for the fail info. */
    h_init("roundtrip: init q", e.store, &q, 2000);
    h_register("roundtrip: register q", e.store, &q, 1, 2000, 0);
    memset(&fi, 0, sizeof fi);
    fi.fail_time_ns = H_TIME + 777;
    fi.message.ptr = big;
    fi.message.len = sizeof big;
    fi.reason = LPS_HTLC_FAIL_REASON_INTERNAL;
    fi.failure_source_index = 2;
    CHECK_OK("roundtrip: fail q", lps_fail_attempt(e.store, q.hash, 1, &fi, NULL));

    for (round = 0; round < 2; round++) {
        const char *when = round == 0 ? "roundtrip: fetched" : "roundtrip: after restart";
        pay = h_fetch(when, e.store, p.hash);
        if (pay) {
            expect_creation(when, &pay->info, &ci);
            if (CHECK(when, pay->htlcs_len == 1))
                expect_attempt(when, &pay->htlcs[0].info, &at);
            h_expect_state(when, pay, FLIGHT, 1, 0, 250, false, false);
        }
        lps_payment_free(pay);
        pay = h_fetch(when, e.store, q.hash);
        if (pay && CHECK(when, pay->htlcs_len == 1 && pay->htlcs[0].failure != NULL)) {
            const LpsFailInfo *f = pay->htlcs[0].failure;
            CHECK_U64(when, f->fail_time_ns, fi.fail_time_ns);
            expect_bytes(when, f->message, big, sizeof big);
            CHECK_U64(when, f->reason, fi.reason);
            CHECK_U64(when, f->failure_source_index, fi.failure_source_index);
            CHECK(when, pay->htlcs[0].info.hash == NULL);
        }
        lps_payment_free(pay);
        if (round == 0 && !h_env_reopen(&e))
            break;
    }

    if (e.store) {
        expect_settle_error("roundtrip: payment preimage does not fit the shard hash", e.store,
                            &p, 7, p.preimage, LPS_STATUS_PREIMAGE_MISMATCH);
        settle_info(&si, shard_preimage, H_TIME + 999);
        pay = NULL;
        CHECK_OK("roundtrip: settle with the shard preimage",
                 lps_settle_attempt(e.store, p.hash, 7, &si, &pay));
        if (pay && CHECK("roundtrip: settle info", pay->htlcs_len == 1 && pay->htlcs[0].settle)) {
            CHECK_MEM("roundtrip: settle preimage", pay->htlcs[0].settle->preimage,
                      shard_preimage, 32);
            CHECK_U64("roundtrip: settle time", pay->htlcs[0].settle->settle_time_ns,
                      H_TIME + 999);
            expect_attempt("roundtrip: settled attempt", &pay->htlcs[0].info, &at);
        }
        lps_payment_free(pay);
    }
    h_env_close(&e);
}

static void roundtrip_blinded_route(void) {
    static const uint8_t enc_intro[] = {1, 2, 3, 4, 5};
    static const uint8_t enc_final[] = {9, 8, 7};
    uint8_t blinding[33];
    LpsHop hops[2];
    LpsAttemptInfo at;
    h_env e;
    h_pay p;
    LpsPayment *pay;

    ENV_OPEN(&e);
    h_pay_make(&p, 1);
    h_init("blinded-roundtrip: init", e.store, &p, 8000);
    memset(blinding, 0x03, sizeof blinding);
    memset(hops, 0, sizeof hops);
    memset(hops[0].pub_key, 0x02, 33);
    hops[0].channel_id = 77;
    hops[0].amt_to_forward_msat = 8000;
    hops[0].encrypted_data.ptr = enc_intro;
    hops[0].encrypted_data.len = sizeof enc_intro;
    hops[0].blinding_point = blinding;
    memset(hops[1].pub_key, 0x03, 33);
    hops[1].amt_to_forward_msat = 8000;
    hops[1].encrypted_data.ptr = enc_final;
    hops[1].encrypted_data.len = sizeof enc_final;
    hops[1].total_amt_msat = 8000;
    memset(&at, 0, sizeof at);
    at.attempt_id = 1;
    at.route.total_amount_msat = 8010;
    at.route.hops = hops;
    at.route.hops_len = 2;
    CHECK_OK("blinded-roundtrip: register", lps_register_attempt(e.store, p.hash, &at, NULL));
    pay = h_fetch("blinded-roundtrip: fetch", e.store, p.hash);
    if (pay && CHECK("blinded-roundtrip: one htlc", pay->htlcs_len == 1))
        expect_attempt("blinded-roundtrip", &pay->htlcs[0].info, &at);
    h_expect_state("blinded-roundtrip", pay, FLIGHT, 1, 0, 10, false, false);
    lps_payment_free(pay);
    h_settle("blinded-roundtrip: settle", e.store, &p, 1);
    h_env_close(&e);
}

/* ---- queries ----------------------------------------------------------------------- */

#define NQ 10
#define QT0 1700000000LL /* creation second of payment 0; payment i is QT0 + 60 i */

/* Ten payments, one a minute: 0 3 6 9 succeeded, 1 4 7 in flight, 2 5 initiated, 8
 * failed. Payment 5 is created half a second into its minute. */
static bool query_fixture(h_env *e, h_pay pays[NQ], uint64_t seq[NQ]) {
    int i;
    for (i = 0; i < NQ; i++) {
        LpsCreationInfo ci;
        LpsPayment *p;
        h_pay_make(&pays[i], (uint32_t)(100 + i));
        h_creation(&ci, &pays[i], 1000 + (uint64_t)i,
                   (QT0 + 60 * i) * 1000000000LL + (i == 5 ? 500000000LL : 0));
        if (!CHECK_OK("query fixture: init", lps_init_payment(e->store, pays[i].hash, &ci)))
            return false;
        if (i % 3 == 0 || i % 3 == 1)
            h_register("query fixture: register", e->store, &pays[i], 1, 1000 + (uint64_t)i, 0);
        if (i % 3 == 0)
            h_settle("query fixture: settle", e->store, &pays[i], 1);
        if (i == 8)
            lps_payment_free(fail_payment("query fixture: fail", e->store, &pays[i],
                                          LPS_FAILURE_REASON_NO_ROUTE));
        p = h_fetch("query fixture: fetch", e->store, pays[i].hash);
        if (!p)
            return false;
        seq[i] = p->sequence_num;
        CHECK("query fixture: sequence numbers increase", i == 0 || seq[i] > seq[i - 1]);
        lps_payment_free(p);
    }
    return true;
}

static void query_defaults(LpsQuery *q) {
    memset(q, 0, sizeof *q);
    q->include_incomplete = true;
}

/* Runs a query and checks that its page holds exactly the payments `want` (indices
 * into the fixture, ascending), with matching first/last offsets. Returns the last
 * offset (or 0), and the first in *first. */
static uint64_t expect_page(const char *name, LpsStore *s, const LpsQuery *q,
                            const uint64_t seq[NQ], const int *want, size_t want_len,
                            uint64_t *first) {
    LpsQueryResponse *r = NULL;
    uint64_t last = 0;
    size_t i;
    if (first)
        *first = 0;
    if (!CHECK_OK(name, lps_query_payments(s, q, &r)) || !r)
        return 0;
    if (CHECK_U64(name, r->payments_len, want_len)) {
        for (i = 0; i < want_len; i++)
            CHECK_U64(name, r->payments[i].sequence_num, seq[want[i]]);
        CHECK_U64(name, r->first_index_offset, want_len ? seq[want[0]] : 0);
        CHECK_U64(name, r->last_index_offset, want_len ? seq[want[want_len - 1]] : 0);
    }
    last = r->last_index_offset;
    if (first)
        *first = r->first_index_offset;
    lps_query_response_free(r);
    return last;
}

static void query_paging(void) {
    static const int p1[] = {0, 1, 2, 3}, p2[] = {4, 5, 6, 7}, p3[] = {8, 9};
    static const int r1[] = {6, 7, 8, 9}, r2[] = {2, 3, 4, 5}, r3[] = {0, 1};
    static const int all[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    static const int s1[] = {0, 3}, s2[] = {6, 9}, sr[] = {3, 6, 9};
    h_env e;
    h_pay pays[NQ];
    uint64_t seq[NQ], off, first;
    LpsQuery q;
    LpsQueryResponse *r = NULL;

    ENV_OPEN(&e);
    if (!query_fixture(&e, pays, seq)) {
        h_env_close(&e);
        return;
    }
    h_expect_counts("query: fixture", e.store, 10, 2, 3, 4, 1);

    query_defaults(&q);
    q.max_payments = 4;
    off = expect_page("query: forward page 1", e.store, &q, seq, p1, 4, NULL);
    q.index_offset = off;
    off = expect_page("query: forward page 2 (offset exclusive)", e.store, &q, seq, p2, 4, NULL);
    q.index_offset = off;
    off = expect_page("query: forward page 3", e.store, &q, seq, p3, 2, NULL);
    q.index_offset = off;
    expect_page("query: forward past the end", e.store, &q, seq, NULL, 0, NULL);

    query_defaults(&q);
    q.max_payments = 4;
    q.reversed = true;
    expect_page("query: reversed page 1 (ascending order)", e.store, &q, seq, r1, 4, &first);
    q.index_offset = first;
    expect_page("query: reversed page 2", e.store, &q, seq, r2, 4, &first);
    q.index_offset = first;
    expect_page("query: reversed page 3", e.store, &q, seq, r3, 2, &first);
    q.index_offset = first;
    expect_page("query: reversed past the start", e.store, &q, seq, NULL, 0, NULL);

    query_defaults(&q);
    expect_page("query: max_payments 0 = 100", e.store, &q, seq, all, 10, NULL);

    query_defaults(&q);
    q.include_incomplete = false;
    q.max_payments = 2;
    off = expect_page("query: only succeeded, page 1", e.store, &q, seq, s1, 2, NULL);
    q.index_offset = off;
    expect_page("query: only succeeded, page 2", e.store, &q, seq, s2, 2, NULL);
    query_defaults(&q);
    q.include_incomplete = false;
    q.reversed = true;
    q.max_payments = 3;
    expect_page("query: only succeeded, reversed", e.store, &q, seq, sr, 3, NULL);

    /* count_total: the whole store's count, whatever the page. */
    query_defaults(&q);
    q.max_payments = 1;
    q.count_total = true;
    if (CHECK_OK("query: count_total", lps_query_payments(e.store, &q, &r)) && r) {
        CHECK_U64("query: total_count", r->total_count, 10);
        CHECK_U64("query: count_total page", r->payments_len, 1);
    }
    lps_query_response_free(r);

    /* omit_hops: attempts stay, their hops go; the derived state is unchanged. */
    query_defaults(&q);
    q.omit_hops = true;
    q.max_payments = 1;
    r = NULL;
    if (CHECK_OK("query: omit_hops", lps_query_payments(e.store, &q, &r)) && r &&
        CHECK("query: omit_hops page", r->payments_len == 1)) {
        const LpsPayment *p = &r->payments[0];
        if (CHECK("query: omit_hops keeps attempts", p->htlcs_len == 1))
            CHECK_U64("query: omit_hops drops hops", p->htlcs[0].info.route.hops_len, 0);
        h_expect_state("query: omit_hops state", p, PAID, 0, 0, 100, true, false);
    }
    lps_query_response_free(r);

    /* Each payment of a page is complete: status and creation time. */
    query_defaults(&q);
    r = NULL;
    if (CHECK_OK("query: all", lps_query_payments(e.store, &q, &r)) && r &&
        CHECK("query: all page", r->payments_len == NQ)) {
        static const uint8_t status[NQ] = {PAID, FLIGHT, INITIATED, PAID, FLIGHT,
                                           INITIATED, PAID, FLIGHT, FAILED, PAID};
        int i;
        for (i = 0; i < NQ; i++) {
            CHECK_U64("query: status", r->payments[i].status, status[i]);
            CHECK_MEM("query: hash", r->payments[i].payment_hash, pays[i].hash, 32);
            CHECK_U64("query: creation_time_ns is nanoseconds",
                      r->payments[i].info.creation_time_ns,
                      (QT0 + 60 * i) * 1000000000LL + (i == 5 ? 500000000LL : 0));
        }
    }
    lps_query_response_free(r);
    h_env_close(&e);
}

static void query_date_window(void) {
    static const int w[] = {2, 3, 4, 5}, from8[] = {8, 9}, to1[] = {0, 1};
    static const int wp1[] = {2, 3}, wp2[] = {4, 5}, wr[] = {4, 5}, wr2[] = {2, 3};
    static const int ws[] = {3};
    h_env e;
    h_pay pays[NQ];
    uint64_t seq[NQ], off, first;
    LpsQuery q;

    ENV_OPEN(&e);
    if (!query_fixture(&e, pays, seq)) {
        h_env_close(&e);
        return;
    }
    query_defaults(&q);
    q.creation_date_start = QT0 + 120; /* payment 2, exactly */
    q.creation_date_end = QT0 + 300;   /* payment 5, created at +0.5 s: still inside */
    expect_page("window: inclusive bounds", e.store, &q, seq, w, 4, NULL);
    q.creation_date_start = QT0 + 121;
    q.creation_date_end = QT0 + 299;
    {
        static const int inner[] = {3, 4};
        expect_page("window: bounds one second inside", e.store, &q, seq, inner, 2, NULL);
    }
    query_defaults(&q);
    q.creation_date_start = QT0 + 480;
    expect_page("window: start only", e.store, &q, seq, from8, 2, NULL);
    query_defaults(&q);
    q.creation_date_end = QT0 + 60;
    expect_page("window: end only", e.store, &q, seq, to1, 2, NULL);
    query_defaults(&q);
    q.creation_date_start = QT0 + 1000;
    q.creation_date_end = QT0 + 2000;
    expect_page("window: empty", e.store, &q, seq, NULL, 0, NULL);
    q.creation_date_start = QT0 + 300;
    q.creation_date_end = QT0 + 120;
    expect_page("window: start after end", e.store, &q, seq, NULL, 0, NULL);

    /* Paging inside a window, both ways. */
    query_defaults(&q);
    q.creation_date_start = QT0 + 120;
    q.creation_date_end = QT0 + 300;
    q.max_payments = 2;
    off = expect_page("window: page 1", e.store, &q, seq, wp1, 2, NULL);
    q.index_offset = off;
    off = expect_page("window: page 2", e.store, &q, seq, wp2, 2, NULL);
    q.index_offset = off;
    expect_page("window: page 3", e.store, &q, seq, NULL, 0, NULL);
    q.index_offset = 0;
    q.reversed = true;
    expect_page("window: reversed page 1", e.store, &q, seq, wr, 2, &first);
    q.index_offset = first;
    expect_page("window: reversed page 2", e.store, &q, seq, wr2, 2, NULL);

    query_defaults(&q);
    q.include_incomplete = false;
    q.creation_date_start = QT0 + 120;
    q.creation_date_end = QT0 + 300;
    expect_page("window: only succeeded", e.store, &q, seq, ws, 1, NULL);
    h_env_close(&e);
}

/* ---- deletes ----------------------------------------------------------------------- */

static void deletes(void) {
    h_env e;
    h_pay a, b, c, d;
    LpsCreationInfo ci;
    LpsPaymentList *list = NULL;
    LpsPayment *pay = H_SENTINEL;

    ENV_OPEN(&e);
    h_pay_make(&a, 1);
    h_pay_make(&b, 2);
    h_pay_make(&c, 3);
    h_pay_make(&d, 4);
    /* a: succeeded with a failed shard. */
    h_init("deletes: a", e.store, &a, 4000);
    h_register("deletes: a shard 1", e.store, &a, 1, 4000, 4000);
    h_fail_attempt("deletes: a shard 1 fails", e.store, &a, 1);
    h_register("deletes: a shard 2", e.store, &a, 2, 4000, 4000);
    h_settle("deletes: a settles", e.store, &a, 2);
    /* b: failed with two failed attempts. */
    h_init("deletes: b", e.store, &b, 500);
    h_register("deletes: b 1", e.store, &b, 1, 500, 0);
    h_fail_attempt("deletes: b 1 fails", e.store, &b, 1);
    h_register("deletes: b 2", e.store, &b, 2, 500, 0);
    h_fail_attempt("deletes: b 2 fails", e.store, &b, 2);
    lps_payment_free(fail_payment("deletes: b fails", e.store, &b, LPS_FAILURE_REASON_ERROR));
    /* c: in flight with a failed attempt. d: initiated. */
    h_init("deletes: c", e.store, &c, 900);
    h_register("deletes: c 1", e.store, &c, 1, 900, 0);
    h_fail_attempt("deletes: c 1 fails", e.store, &c, 1);
    h_register("deletes: c 2", e.store, &c, 2, 900, 0);
    h_init("deletes: d", e.store, &d, 100);
    h_expect_counts("deletes: fixture", e.store, 4, 1, 1, 1, 1);

    CHECK_OK("deletes: failed attempts of a", lps_delete_failed_attempts(e.store, a.hash));
    CHECK_U64("deletes: a keeps its settled attempt", htlc_count(e.store, a.hash), 1);
    pay = h_fetch("deletes: a", e.store, a.hash);
    h_expect_state("deletes: a still succeeded", pay, PAID, 0, 0, 100, true, false);
    if (pay && pay->htlcs_len == 1)
        CHECK_U64("deletes: the settled attempt stays", pay->htlcs[0].info.attempt_id, 2);
    lps_payment_free(pay);

    CHECK_OK("deletes: failed attempts only of b", lps_delete_payment(e.store, b.hash, true));
    pay = h_fetch("deletes: b", e.store, b.hash);
    h_expect_state("deletes: b still failed", pay, FAILED, 0, 500, 0, false, true);
    if (pay)
        CHECK_U64("deletes: b has no attempts", pay->htlcs_len, 0);
    lps_payment_free(pay);
    h_expect_counts("deletes: attempts only", e.store, 4, 1, 1, 1, 1);

    CHECK_STATUS("deletes: in-flight payment", lps_delete_payment(e.store, c.hash, false),
                 LPS_STATUS_PAYMENT_IN_FLIGHT);
    CHECK_STATUS("deletes: in-flight payment, attempts only",
                 lps_delete_payment(e.store, c.hash, true), LPS_STATUS_PAYMENT_IN_FLIGHT);
    CHECK_STATUS("deletes: failed attempts of an in-flight payment",
                 lps_delete_failed_attempts(e.store, c.hash), LPS_STATUS_PAYMENT_IN_FLIGHT);
    CHECK_U64("deletes: c untouched", htlc_count(e.store, c.hash), 2);

    CHECK_OK("deletes: initiated payment", lps_delete_payment(e.store, d.hash, false));
    h_creation(&ci, &d, 100, H_TIME);
    CHECK_OK("deletes: an initiated hash may start again", lps_init_payment(e.store, d.hash, &ci));
    CHECK_OK("deletes: b", lps_delete_payment(e.store, b.hash, false));
    pay = H_SENTINEL;
    CHECK_STATUS("deletes: b is gone", lps_fetch_payment(e.store, b.hash, &pay),
                 LPS_STATUS_PAYMENT_NOT_INITIATED);
    CHECK("deletes: out untouched", pay == H_SENTINEL);
    CHECK_OK("deletes: b may start again", lps_init_payment(e.store, b.hash, &ci));
    CHECK_OK("deletes: and be deleted", lps_delete_payment(e.store, b.hash, false));
    h_expect_counts("deletes: after deletes", e.store, 3, 1, 1, 1, 0);

    if (CHECK_OK("deletes: in-flight list", lps_fetch_inflight_payments(e.store, &list)) &&
        list && CHECK_U64("deletes: two non-terminal", list->len, 2)) {
        CHECK("deletes: c and d are in flight",
              (memcmp(list->payments[0].payment_hash, c.hash, 32) == 0 &&
               memcmp(list->payments[1].payment_hash, d.hash, 32) == 0) ||
                  (memcmp(list->payments[0].payment_hash, d.hash, 32) == 0 &&
                   memcmp(list->payments[1].payment_hash, c.hash, 32) == 0));
    }
    lps_payment_list_free(list);
    h_env_close(&e);
}

static void delete_payments_bulk(void) {
    h_env e;
    h_pay f1, f2, s1, s2, i1, n1;
    uint64_t n = 12345;
    LpsCreationInfo ci;

    ENV_OPEN(&e);
    h_pay_make(&f1, 1);
    h_pay_make(&f2, 2);
    h_pay_make(&s1, 3);
    h_pay_make(&s2, 4);
    h_pay_make(&i1, 5);
    h_pay_make(&n1, 6);
    h_init("bulk: f1", e.store, &f1, 100);
    h_register("bulk: f1 1", e.store, &f1, 1, 100, 0);
    h_fail_attempt("bulk: f1 1 fails", e.store, &f1, 1);
    lps_payment_free(fail_payment("bulk: f1 fails", e.store, &f1, LPS_FAILURE_REASON_TIMEOUT));
    h_init("bulk: f2", e.store, &f2, 100);
    lps_payment_free(fail_payment("bulk: f2 fails", e.store, &f2, LPS_FAILURE_REASON_CANCELED));
    h_init("bulk: s1", e.store, &s1, 200);
    h_register("bulk: s1 1", e.store, &s1, 1, 200, 200);
    h_fail_attempt("bulk: s1 1 fails", e.store, &s1, 1);
    h_register("bulk: s1 2", e.store, &s1, 2, 200, 200);
    h_settle("bulk: s1 settles", e.store, &s1, 2);
    pay_in_full("bulk: s2", e.store, &s2, 300);
    h_init("bulk: i1", e.store, &i1, 400);
    h_register("bulk: i1 1", e.store, &i1, 1, 400, 0);
    h_fail_attempt("bulk: i1 1 fails", e.store, &i1, 1);
    h_register("bulk: i1 2", e.store, &i1, 2, 400, 0);
    h_init("bulk: n1", e.store, &n1, 500);
    h_expect_counts("bulk: fixture", e.store, 6, 1, 1, 2, 2);

    CHECK_OK("bulk: failed attempts only", lps_delete_payments(e.store, false, true, &n));
    CHECK_U64("bulk: attempts only deletes no payment", n, 0);
    CHECK_U64("bulk: s1 lost its failed attempt", htlc_count(e.store, s1.hash), 1);
    CHECK_U64("bulk: f1 lost its failed attempt", htlc_count(e.store, f1.hash), 0);
    CHECK_U64("bulk: in-flight i1 untouched", htlc_count(e.store, i1.hash), 2);
    h_expect_counts("bulk: after attempts only", e.store, 6, 1, 1, 2, 2);

    n = 12345;
    CHECK_OK("bulk: failed only", lps_delete_payments(e.store, true, false, &n));
    CHECK_U64("bulk: two failed payments deleted", n, 2);
    h_expect_counts("bulk: after failed only", e.store, 4, 1, 1, 2, 0);

    n = 12345;
    CHECK_OK("bulk: everything not in flight", lps_delete_payments(e.store, false, false, &n));
    CHECK_U64("bulk: three deleted", n, 3);
    h_expect_counts("bulk: only the in-flight payment is left", e.store, 1, 0, 1, 0, 0);
    CHECK_OK("bulk: nothing left to delete, deleted NULL",
             lps_delete_payments(e.store, false, false, NULL));
    h_expect_counts("bulk: still the in-flight payment", e.store, 1, 0, 1, 0, 0);

    h_creation(&ci, &s1, 200, H_TIME);
    CHECK_STATUS("bulk: deleted succeeded hash stays paid", lps_init_payment(e.store, s1.hash, &ci),
                 LPS_STATUS_ALREADY_PAID);
    h_creation(&ci, &f1, 100, H_TIME);
    CHECK_OK("bulk: deleted failed hash may start again", lps_init_payment(e.store, f1.hash, &ci));
    h_env_close(&e);
}

/* ---- restart ----------------------------------------------------------------------- */

/* Index of `hash` in the list, or -1. */
static int list_index(const LpsPaymentList *list, const uint8_t hash[32]) {
    size_t i;
    for (i = 0; i < list->len; i++)
        if (memcmp(list->payments[i].payment_hash, hash, 32) == 0)
            return (int)i;
    return -1;
}

static void restart_resumes_inflight(void) {
    h_env e;
    h_pay a, b, c, d, f, g;
    LpsPaymentList *list = NULL;
    LpsCreationInfo ci;
    LpsPayment *pay;
    uint64_t max_seq = 0;
    int ia, ib, ic;

    ENV_OPEN(&e);
    h_pay_make(&a, 1);
    h_pay_make(&b, 2);
    h_pay_make(&c, 3);
    h_pay_make(&d, 4);
    h_pay_make(&f, 5);
    h_pay_make(&g, 6);
    /* a: two shards, one settled; b: one shard out; c: initiated; d: paid; f: failed. */
    h_init("restart: a", e.store, &a, 2000);
    h_register("restart: a 1", e.store, &a, 1, 1000, 2000);
    h_register("restart: a 2", e.store, &a, 2, 1000, 2000);
    h_settle("restart: a 1 settles", e.store, &a, 1);
    h_init("restart: b", e.store, &b, 3000);
    h_register("restart: b 1", e.store, &b, 1, 3000, 0);
    h_init("restart: c", e.store, &c, 4000);
    pay_in_full("restart: d", e.store, &d, 5000);
    h_init("restart: f", e.store, &f, 6000);
    lps_payment_free(fail_payment("restart: f fails", e.store, &f, LPS_FAILURE_REASON_ERROR));
    h_expect_counts("restart: before", e.store, 5, 1, 2, 1, 1);

    if (!h_env_reopen(&e)) {
        h_env_close(&e);
        return;
    }
    h_expect_counts("restart: after reopen", e.store, 5, 1, 2, 1, 1);
    if (!CHECK_OK("restart: fetch in-flight", lps_fetch_inflight_payments(e.store, &list)) ||
        !list) {
        h_env_close(&e);
        return;
    }
    CHECK_U64("restart: exactly the three non-terminal payments", list->len, 3);
    ia = list_index(list, a.hash);
    ib = list_index(list, b.hash);
    ic = list_index(list, c.hash);
    CHECK("restart: a, b and c listed", ia >= 0 && ib >= 0 && ic >= 0);
    CHECK("restart: d and f not listed", list_index(list, d.hash) < 0 && list_index(list, f.hash) < 0);
    if (ia >= 0) {
        h_expect_state("restart: a resumed", &list->payments[ia], FLIGHT, 1, 0, 200, true, false);
        h_expect_decisions("restart: a resumed", &list->payments[ia], false, true, false);
    }
    if (ib >= 0) {
        h_expect_state("restart: b resumed", &list->payments[ib], FLIGHT, 1, 0, 100, false, false);
        CHECK_U64("restart: b value", list->payments[ib].info.value_msat, 3000);
    }
    if (ic >= 0)
        h_expect_state("restart: c resumed", &list->payments[ic], INITIATED, 0, 4000, 0, false,
                       false);
    lps_payment_list_free(list);

    /* Finish them. */
    h_settle("restart: a 2 settles", e.store, &a, 2);
    h_fail_attempt("restart: b 1 fails", e.store, &b, 1);
    lps_payment_free(fail_payment("restart: b gives up", e.store, &b, LPS_FAILURE_REASON_TIMEOUT));
    h_register("restart: c 1", e.store, &c, 1, 4000, 0);
    h_settle("restart: c 1 settles", e.store, &c, 1);
    list = NULL;
    if (CHECK_OK("restart: in-flight after finishing", lps_fetch_inflight_payments(e.store, &list)) && list)
        CHECK_U64("restart: nothing in flight", list->len, 0);
    lps_payment_list_free(list);
    h_expect_counts("restart: finished", e.store, 5, 0, 0, 3, 2);

    /* Sequence numbers keep increasing; paid hashes stay paid. */
    {
        h_pay *all[] = {&a, &b, &c, &d, &f};
        size_t i;
        for (i = 0; i < 5; i++) {
            pay = h_fetch("restart: sequence", e.store, all[i]->hash);
            if (pay && pay->sequence_num > max_seq)
                max_seq = pay->sequence_num;
            lps_payment_free(pay);
        }
    }
    h_init("restart: g after restart", e.store, &g, 100);
    pay = h_fetch("restart: g", e.store, g.hash);
    if (pay)
        CHECK("restart: new sequence number above the old ones", pay->sequence_num > max_seq);
    lps_payment_free(pay);
    h_creation(&ci, &d, 5000, H_TIME);
    CHECK_STATUS("restart: paid hash stays paid", lps_init_payment(e.store, d.hash, &ci),
                 LPS_STATUS_ALREADY_PAID);
    if (h_env_reopen(&e))
        h_expect_counts("restart: second reopen", e.store, 6, 1, 0, 3, 2);
    h_env_close(&e);
}

static void compact(void) {
    h_env e;
    h_pay p;
    uint32_t i;
    uint64_t n = 0;

    ENV_OPEN(&e);
    CHECK_OK("compact: empty store", lps_store_compact(e.store));
    for (i = 0; i < 20; i++) {
        h_pay_make(&p, 1000 + i);
        pay_in_full("compact: pay", e.store, &p, 1000 + i);
    }
    CHECK_OK("compact: delete all", lps_delete_payments(e.store, false, false, &n));
    CHECK_U64("compact: 20 deleted", n, 20);
    CHECK_OK("compact: after deletes", lps_store_compact(e.store));
    h_expect_counts("compact: empty", e.store, 0, 0, 0, 0, 0);
    h_pay_make(&p, 1);
    pay_in_full("compact: pay after compaction", e.store, &p, 77);
    if (h_env_reopen(&e)) {
        h_expect_counts("compact: after reopen", e.store, 1, 0, 0, 1, 0);
        CHECK_OK("compact: again", lps_store_compact(e.store));
    }
    h_env_close(&e);
}

/* Read-only open of a database: no lease, so it opens beside the live writer and sees
 * its commits; every change gets READ_ONLY. */
static void read_only_database(void) {
    h_env e;
    h_pay p, q;
    LpsCreationInfo ci;
    LpsStore *ro = NULL;
    uint64_t n = 0;

    ENV_OPEN(&e);
    h_pay_make(&p, 1);
    pay_in_full("read-only database: pay", e.store, &p, 1000);
    if (!CHECK_OK("read-only database: open beside the writer",
                  lps_store_open_read_only(e.path, NULL, &ro))) {
        h_env_close(&e);
        return;
    }
    h_expect_counts("read-only database: counts", ro, 1, 0, 0, 1, 0);
    h_pay_make(&q, 2);
    h_creation(&ci, &q, 500, H_TIME);
    CHECK_STATUS("read-only database: init refused", lps_init_payment(ro, q.hash, &ci),
                 LPS_STATUS_READ_ONLY);
    CHECK_STATUS("read-only database: bulk delete refused",
                 lps_delete_payments(ro, false, false, &n), LPS_STATUS_READ_ONLY);
    CHECK_OK("read-only database: the writer goes on", lps_init_payment(e.store, q.hash, &ci));
    h_expect_counts("read-only database: sees the writer's commit", ro, 2, 1, 0, 1, 0);
    CHECK_OK("read-only database: close", lps_store_close(ro));
    h_env_close(&e);
}

/* Read-only open: reads work, every change gets READ_ONLY, the store is unchanged; a
 * writer and a read-only open exclude each other; a missing file is not created. */
static void read_only(void) {
    h_env e;
    h_pay p, q;
    LpsCreationInfo ci;
    LpsStore *ro = NULL, *other = NULL;
    LpsPayment *pay;
    uint64_t n = 0;
    char missing[700];

    if (h_database_url) {
        read_only_database();
        return;
    }
    ENV_OPEN(&e);
    h_pay_make(&p, 1);
    pay_in_full("read-only: pay", e.store, &p, 1000);
    CHECK_STATUS("read-only: refused while a writer has the file",
                 lps_store_open_read_only(e.path, NULL, &ro), LPS_STATUS_LOCKED);
    CHECK_OK("read-only: writer closes", lps_store_close(e.store));
    e.store = NULL;
    if (!CHECK_OK("read-only: open", lps_store_open_read_only(e.path, NULL, &ro))) {
        h_env_close(&e);
        return;
    }
    CHECK_OK("read-only: a second read-only open", lps_store_open_read_only(e.path, NULL, &other));
    CHECK_OK("read-only: second closes", lps_store_close(other));
    CHECK_STATUS("read-only: a writer is refused", h_store_open(e.path, &other), LPS_STATUS_LOCKED);
    h_expect_counts("read-only: counts", ro, 1, 0, 0, 1, 0);
    pay = h_fetch("read-only: fetch", ro, p.hash);
    h_expect_state("read-only: fetched", pay, PAID, 0, 0, 100, true, false);
    lps_payment_free(pay);
    h_pay_make(&q, 2);
    h_creation(&ci, &q, 500, H_TIME);
    CHECK_STATUS("read-only: init refused", lps_init_payment(ro, q.hash, &ci),
                 LPS_STATUS_READ_ONLY);
    CHECK_STATUS("read-only: delete refused", lps_delete_payment(ro, p.hash, false),
                 LPS_STATUS_READ_ONLY);
    CHECK_STATUS("read-only: bulk delete refused", lps_delete_payments(ro, false, false, &n),
                 LPS_STATUS_READ_ONLY);
    CHECK_STATUS("read-only: compact refused", lps_store_compact(ro), LPS_STATUS_READ_ONLY);
    h_expect_counts("read-only: unchanged", ro, 1, 0, 0, 1, 0);
    CHECK_OK("read-only: close", lps_store_close(ro));

    snprintf(missing, sizeof missing, "%s/missing.db", e.dir);
    ro = NULL;
    CHECK_STATUS("read-only: missing file", lps_store_open_read_only(missing, NULL, &ro),
                 LPS_STATUS_IO);
    CHECK("read-only: missing file not created", access(missing, F_OK) != 0);
    if (CHECK_OK("read-only: writer reopens", h_store_open(e.path, &e.store)))
        h_expect_counts("read-only: writer sees the same", e.store, 1, 0, 0, 1, 0);
    h_env_close(&e);
}

/* Online backup: the copy opens as a store with every payment; an existing destination
 * is refused and left as it was. */
static void backup(void) {
    h_env e;
    h_pay p;
    LpsStore *copy = NULL;
    char dest[700];
    uint32_t i;
    FILE *f;

    if (h_database_url)
        return; /* a database is backed up with the database's own tools */
    ENV_OPEN(&e);
    for (i = 0; i < 5; i++) {
        h_pay_make(&p, 100 + i);
        pay_in_full("backup: pay", e.store, &p, 1000);
    }
    snprintf(dest, sizeof dest, "%s/copy.db", e.dir);
    CHECK_OK("backup: to a new path", lps_store_backup(e.store, dest));
    CHECK_STATUS("backup: the path now exists", lps_store_backup(e.store, dest),
                 LPS_STATUS_INVALID_ARGUMENT);
    if (CHECK_OK("backup: the copy opens", h_store_open(dest, &copy))) {
        h_expect_counts("backup: the copy", copy, 5, 0, 0, 5, 0);
        CHECK_OK("backup: copy closes", lps_store_close(copy));
    }
    snprintf(dest, sizeof dest, "%s/taken.db", e.dir);
    f = fopen(dest, "w");
    if (f) {
        fputs("keep", f);
        fclose(f);
    }
    CHECK_STATUS("backup: an existing file is refused", lps_store_backup(e.store, dest),
                 LPS_STATUS_INVALID_ARGUMENT);
    h_env_close(&e);
}

/* ---- concurrency ------------------------------------------------------------------- */

#define SHARD_THREADS 4
#define SHARDS_PER_THREAD 5

typedef struct shard_worker {
    LpsStore *store;
    const h_pay *pay;
    int id;
    LpsStatus results[SHARDS_PER_THREAD];
} shard_worker;

static void *register_shards(void *arg) {
    shard_worker *w = arg;
    int k;
    for (k = 0; k < SHARDS_PER_THREAD; k++) {
        h_attempt a;
        h_attempt_make(&a, (uint64_t)(w->id * 100 + k), 1000, H_FEE);
        h_attempt_mpp(&a, 0xad, 10000);
        w->results[k] = lps_register_attempt(w->store, w->pay->hash, &a.info, NULL);
    }
    return NULL;
}

/* Racing threads registering shards on one payment never overpay (docs/behaviour.md,
 * Registering an attempt). */
static void concurrent_shards_never_overpay(void) {
    h_env e;
    h_pay p;
    pthread_t threads[SHARD_THREADS];
    shard_worker workers[SHARD_THREADS];
    int t, k, ok = 0, exceeds = 0, other = 0;
    LpsPayment *pay;

    ENV_OPEN(&e);
    h_pay_make(&p, 1);
    h_init("race: init", e.store, &p, 10000);
    for (t = 0; t < SHARD_THREADS; t++) {
        workers[t].store = e.store;
        workers[t].pay = &p;
        workers[t].id = t + 1;
        CHECK("race: thread started",
              pthread_create(&threads[t], NULL, register_shards, &workers[t]) == 0);
    }
    for (t = 0; t < SHARD_THREADS; t++) {
        pthread_join(threads[t], NULL);
        for (k = 0; k < SHARDS_PER_THREAD; k++) {
            LpsStatus st = workers[t].results[k];
            ok += st == LPS_STATUS_OK;
            exceeds += st == LPS_STATUS_VALUE_EXCEEDS_AMT;
            other += st != LPS_STATUS_OK && st != LPS_STATUS_VALUE_EXCEEDS_AMT;
            if (st != LPS_STATUS_OK && st != LPS_STATUS_VALUE_EXCEEDS_AMT)
                fprintf(stderr, "race: shard %d got status %d\n", workers[t].id * 100 + k,
                        (int)st);
        }
    }
    CHECK_U64("race: exactly ten shards fit", ok, 10);
    CHECK_U64("race: the rest would overpay", exceeds, 10);
    CHECK_U64("race: no other outcome", other, 0);
    pay = h_fetch("race: fetch", e.store, p.hash);
    h_expect_state("race: full", pay, FLIGHT, 10, 0, 1000, false, false);
    lps_payment_free(pay);
    h_env_close(&e);
}

static const h_case cases[] = {
    {"library_info", library_info},
    {"single_shard", single_shard},
    {"mpp_failed_shard_retried", mpp_failed_shard_retried},
    {"fail_payment_then_reinit", fail_payment_then_reinit},
    {"fail_payment_with_shard_in_flight", fail_payment_with_shard_in_flight},
    {"init_conflicts", init_conflicts},
    {"double_pay_protection", double_pay_protection},
    {"register_errors", register_errors},
    {"blinded_register_errors", blinded_register_errors},
    {"settle_and_fail_errors", settle_and_fail_errors},
    {"roundtrip_every_field", roundtrip_every_field},
    {"roundtrip_blinded_route", roundtrip_blinded_route},
    {"query_paging", query_paging},
    {"query_date_window", query_date_window},
    {"deletes", deletes},
    {"delete_payments_bulk", delete_payments_bulk},
    {"restart_resumes_inflight", restart_resumes_inflight},
    {"compact", compact},
    {"read_only", read_only},
    {"backup", backup},
    {"concurrent_shards_never_overpay", concurrent_shards_never_overpay},
};

const h_suite lifecycle_suite = {"lifecycle", cases, sizeof cases / sizeof cases[0]};
