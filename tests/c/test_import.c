/* Bulk import through the C ABI (lps_import_payments): whole payments in every state
 * keep their sequence numbers; the report names each refused payment and why; nothing
 * that exists is overwritten; invalid calls get their documented status. */

#include <stdio.h>
#include <string.h>

#include "harness.h"

/* One payment to import with its attempts, built in place (it points into itself). */
typedef struct imp {
    h_pay pay;
    h_attempt attempts[3];
    LpsSettleInfo settles[3];
    LpsFailInfo fails[3];
    LpsHtlcAttempt htlcs[3];
    LpsImportPayment in;
} imp;

static void imp_make(imp *m, uint32_t n, uint64_t seq, uint64_t value) {
    memset(m, 0, sizeof *m);
    h_pay_make(&m->pay, n);
    m->in.sequence_num = seq;
    memcpy(m->in.payment_hash, m->pay.hash, 32);
    h_creation(&m->in.info, &m->pay, value, H_TIME + (int64_t)n);
    m->in.htlcs = m->htlcs;
}

/* Adds attempt `id` paying `amt`: outcome 's' settled, 'f' failed, 'i' in flight. */
static void imp_attempt(imp *m, uint64_t id, uint64_t amt, char outcome) {
    size_t i = m->in.htlcs_len++;
    h_attempt_make(&m->attempts[i], id, amt, H_FEE);
    m->htlcs[i].info = m->attempts[i].info;
    m->htlcs[i].info.route.hops = m->attempts[i].hops;
    if (outcome == 's') {
        memcpy(m->settles[i].preimage, m->pay.preimage, 32);
        m->settles[i].settle_time_ns = H_TIME + 9;
        m->htlcs[i].settle = &m->settles[i];
    } else if (outcome == 'f') {
        static const uint8_t message[] = {0x40, 0x0f, 0x00};
        m->fails[i].fail_time_ns = H_TIME + 8;
        m->fails[i].message.ptr = message;
        m->fails[i].message.len = sizeof message;
        m->fails[i].reason = LPS_HTLC_FAIL_REASON_MESSAGE;
        m->fails[i].failure_source_index = 1;
        m->htlcs[i].failure = &m->fails[i];
    }
}

static void imp_fail(imp *m, uint8_t reason) {
    m->in.has_failure_reason = true;
    m->in.failure_reason = reason;
}

static void expect_payment(const char *name, LpsStore *s, const imp *m, uint8_t status) {
    LpsPayment *p = h_fetch(name, s, m->pay.hash);
    if (!p)
        return;
    CHECK_U64(name, p->sequence_num, m->in.sequence_num);
    CHECK_U64(name, p->status, status);
    CHECK_U64(name, p->htlcs_len, m->in.htlcs_len);
    CHECK_U64(name, p->has_failure_reason, m->in.has_failure_reason);
    lps_payment_free(p);
}

static void import_every_state(void) {
    static imp m[5];
    LpsImportPayment in[5];
    LpsImportReport *report = NULL;
    LpsPayment *next = NULL;
    LpsCreationInfo ci;
    h_pay fresh;
    h_env e;
    size_t i;
    ENV_OPEN(&e);

    imp_make(&m[0], 1, 30, 1000); /* succeeded after a failed shard */
    imp_attempt(&m[0], 1, 1000, 'f');
    imp_attempt(&m[0], 2, 1000, 's');
    imp_make(&m[1], 2, 10, 1000); /* in flight */
    imp_attempt(&m[1], 5, 1000, 'i');
    imp_make(&m[2], 3, 20, 1000); /* failed */
    imp_attempt(&m[2], 1, 1000, 'f');
    imp_fail(&m[2], LPS_FAILURE_REASON_NO_ROUTE);
    imp_make(&m[3], 4, 11, 1000); /* initiated */
    imp_make(&m[4], 5, 12, 1000); /* failed before any attempt */
    imp_fail(&m[4], LPS_FAILURE_REASON_CANCELED);
    for (i = 0; i < 5; i++)
        in[i] = m[i].in;

    if (!CHECK_OK("import: every state", lps_import_payments(e.store, in, 5, &report)))
        goto done;
    CHECK_U64("import: all imported", report->imported, 5);
    CHECK_U64("import: none refused", report->refused_len, 0);
    CHECK("import: no refusal array", report->refused == NULL);
    lps_import_report_free(report);

    expect_payment("import: succeeded", e.store, &m[0], LPS_PAYMENT_STATUS_SUCCEEDED);
    expect_payment("import: in flight", e.store, &m[1], LPS_PAYMENT_STATUS_IN_FLIGHT);
    expect_payment("import: failed", e.store, &m[2], LPS_PAYMENT_STATUS_FAILED);
    expect_payment("import: initiated", e.store, &m[3], LPS_PAYMENT_STATUS_INITIATED);
    expect_payment("import: failed early", e.store, &m[4], LPS_PAYMENT_STATUS_FAILED);
    h_expect_counts("import: counts", e.store, 5, 1, 1, 1, 2);

    /* Every field of a failed attempt arrives. */
    {
        LpsPayment *p = h_fetch("import: fields", e.store, m[0].pay.hash);
        if (p) {
            const LpsFailInfo *f = p->htlcs[0].failure;
            CHECK("import: failure kept", f != NULL && p->htlcs[1].settle != NULL);
            if (f) {
                CHECK_U64("import: fail time", (uint64_t)f->fail_time_ns, H_TIME + 8);
                CHECK_U64("import: message", f->message.len, 3);
                CHECK_U64("import: source", f->failure_source_index, 1);
            }
            CHECK_MEM("import: preimage", p->htlcs[1].settle->preimage, m[0].pay.preimage, 32);
            lps_payment_free(p);
        }
    }

    /* The next payment numbers above every imported one, across a reopen. */
    if (!h_env_reopen(&e))
        goto done;
    h_pay_make(&fresh, 99);
    h_creation(&ci, &fresh, 1000, H_TIME);
    CHECK_OK("import: init after", lps_init_payment(e.store, fresh.hash, &ci));
    next = h_fetch("import: next number", e.store, fresh.hash);
    if (next)
        CHECK_U64("import: next number", next->sequence_num, 31);
    lps_payment_free(next);
done:
    h_env_close(&e);
}

static void import_refusals(void) {
    static imp m[5];
    LpsImportPayment in[5];
    LpsImportReport *report = NULL;
    LpsPayment *before = NULL, *after = NULL;
    h_pay existing;
    h_env e;
    size_t i;
    ENV_OPEN(&e);

    /* The store holds payment 1 (sequence number 1), paid. */
    h_pay_make(&existing, 1);
    h_init("refusals: existing", e.store, &existing, 1000);
    h_register("refusals: existing", e.store, &existing, 1, 1000, 0);
    h_settle("refusals: existing", e.store, &existing, 1);
    before = h_fetch("refusals: before", e.store, existing.hash);

    imp_make(&m[0], 1, 50, 5000); /* its hash is taken */
    imp_make(&m[1], 2, 1, 1000);  /* its number is taken */
    imp_make(&m[2], 3, 52, 1000); /* a false preimage */
    imp_attempt(&m[2], 1, 1000, 's');
    m[2].settles[0].preimage[0] ^= 1;
    imp_make(&m[3], 4, 53, 1000); /* unreadable: NULL bytes with a length */
    imp_attempt(&m[3], 1, 1000, 'i');
    m[3].attempts[0].hops[0].metadata.len = 4;
    imp_make(&m[4], 5, 54, 1000); /* fine */
    for (i = 0; i < 5; i++)
        in[i] = m[i].in;

    if (!CHECK_OK("refusals: import", lps_import_payments(e.store, in, 5, &report)))
        goto done;
    CHECK_U64("refusals: imported", report->imported, 1);
    if (CHECK_U64("refusals: refused", report->refused_len, 4)) {
        static const LpsStatus want[4] = {LPS_STATUS_PAYMENT_EXISTS,
                                          LPS_STATUS_SEQUENCE_NUM_EXISTS,
                                          LPS_STATUS_PREIMAGE_MISMATCH,
                                          LPS_STATUS_INVALID_ARGUMENT};
        for (i = 0; i < 4; i++) {
            const LpsImportRefusal *r = &report->refused[i];
            char prefix[32];
            CHECK_U64("refusals: index", r->index, i);
            CHECK_U64("refusals: status", r->status, want[i]);
            CHECK_U64("refusals: number", r->sequence_num, m[i].in.sequence_num);
            CHECK_MEM("refusals: hash", r->payment_hash, m[i].pay.hash, 32);
            snprintf(prefix, sizeof prefix, ": payments[%u]: ", (unsigned)i);
            CHECK("refusals: message names the payment",
                  r->message != NULL && strstr(r->message, prefix) != NULL);
        }
        CHECK("refusals: message names the field",
              strstr(report->refused[3].message, "htlcs[0]") != NULL &&
                  strstr(report->refused[3].message, "metadata") != NULL);
    }
    lps_import_report_free(report);

    after = h_fetch("refusals: after", e.store, existing.hash);
    if (before && after) {
        CHECK_U64("refusals: not overwritten", after->info.value_msat, 1000);
        CHECK_U64("refusals: number kept", after->sequence_num, before->sequence_num);
    }
    lps_payment_free(before);
    lps_payment_free(after);
    h_expect_counts("refusals: counts", e.store, 2, 1, 0, 1, 0);
done:
    h_env_close(&e);
}

static void import_abuse(void) {
    imp m;
    LpsImportReport *report = H_SENTINEL;
    h_env e;
    ENV_OPEN(&e);
    imp_make(&m, 1, 5, 1000);
    h_abuse_watch(e.store, m.pay.hash);

    ABUSE("import: store NULL", lps_import_payments(NULL, &m.in, 1, &report),
          LPS_STATUS_NULL_ARGUMENT);
    ABUSE("import: out NULL", lps_import_payments(e.store, &m.in, 1, NULL),
          LPS_STATUS_NULL_ARGUMENT);
    ABUSE("import: payments NULL with a length", lps_import_payments(e.store, NULL, 3, &report),
          LPS_STATUS_INVALID_ARGUMENT);
    ABUSE("import: absurd length",
          lps_import_payments(e.store, &m.in, (size_t)LPS_MAX_IMPORT_PAYMENTS + 1, &report),
          LPS_STATUS_INVALID_ARGUMENT);
    CHECK("import: out untouched", report == H_SENTINEL);
    ABUSE_VOID("import: free NULL", lps_import_report_free(NULL), 0);
    h_abuse_watch(NULL, NULL);

    /* An empty call imports nothing and still reports. */
    report = NULL;
    if (CHECK_OK("import: empty", lps_import_payments(e.store, NULL, 0, &report))) {
        CHECK_U64("import: empty report", report->imported + report->refused_len, 0);
        lps_import_report_free(report);
    }
    /* Enum values out of range are the payment's refusal, not the call's. */
    m.in.has_failure_reason = true;
    m.in.failure_reason = 6;
    report = NULL;
    if (CHECK_OK("import: bad reason", lps_import_payments(e.store, &m.in, 1, &report))) {
        CHECK_U64("import: bad reason refused", report->refused_len, 1);
        if (report->refused_len == 1)
            CHECK_U64("import: bad reason status", report->refused[0].status,
                      LPS_STATUS_INVALID_ARGUMENT);
        lps_import_report_free(report);
    }
    h_expect_counts("import: nothing stored", e.store, 0, 0, 0, 0, 0);
    h_env_close(&e);
}

static const h_case cases[] = {
    {"import_every_state", import_every_state},
    {"import_refusals", import_refusals},
    {"import_abuse", import_abuse},
};

const h_suite import_suite = {"import", cases, sizeof cases / sizeof cases[0]};
