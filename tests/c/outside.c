/* An "outside" C program, written only from the header and docs/c-api.md (no test helpers,
 * no crate sources): it must compile with -std=c99 -Wall -Wextra -Werror -pedantic against
 * include/lnpaystore.h and link against the built library unchanged.
 *
 * Pays one payment (preimage 32 zero bytes, whose SHA-256 is the payment hash below),
 * reads it back, counts and queries, and exits 0 when everything matched. */

#define _XOPEN_SOURCE 700 /* mkdtemp */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lnpaystore.h"

/* SHA-256 of 32 zero bytes. */
static const uint8_t HASH[32] = {0x66, 0x68, 0x7a, 0xad, 0xf8, 0x62, 0xbd, 0x77,
                                 0x6c, 0x8f, 0xc1, 0x8b, 0x8e, 0x9f, 0x8e, 0x20,
                                 0x08, 0x97, 0x14, 0x85, 0x6e, 0xe2, 0x33, 0xb3,
                                 0x90, 0x2a, 0x59, 0x1d, 0x0d, 0x5f, 0x29, 0x25};

static int failures;

static void expect(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, "outside: FAIL %s (last error: \"%s\")\n", what, lps_last_error());
        failures++;
    }
}

static void expect_ok(LpsStatus st, const char *what) {
    if (st != LPS_STATUS_OK) {
        fprintf(stderr, "outside: FAIL %s: %s: %s\n", what, lps_status_name(st),
                lps_last_error());
        failures++;
    }
}

int main(void) {
    char dir[] = "/tmp/lps-outside-XXXXXX";
    char path[64];
    LpsOptions opts;
    LpsStore *store = NULL;
    LpsCreationInfo info;
    LpsHop hop;
    LpsMpp mpp;
    LpsAttemptInfo attempt;
    LpsSettleInfo settle;
    LpsPayment *payment = NULL;
    LpsPaymentCounts counts;
    LpsQuery query;
    LpsQueryResponse *response = NULL;
    bool flag = true;

    expect(lps_abi_version() == LPS_ABI_VERSION, "ABI version");
    expect(strcmp(lps_status_name(LPS_STATUS_ALREADY_PAID), "LPS_STATUS_ALREADY_PAID") == 0,
           "status name");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    sprintf(path, "%s/outside.db", dir);

    lps_options_default(&opts);
    opts.no_sync = true;
    expect_ok(lps_store_open(path, &opts, &store), "lps_store_open");
    if (!store)
        return 1;

    memset(&info, 0, sizeof info);
    memcpy(info.payment_identifier, HASH, 32);
    info.value_msat = 21000;
    info.creation_time_ns = 1700000000000000000LL;
    expect_ok(lps_init_payment(store, HASH, &info), "lps_init_payment");

    memset(&hop, 0, sizeof hop);
    memset(hop.pub_key, 2, sizeof hop.pub_key);
    hop.channel_id = 1;
    hop.amt_to_forward_msat = 21000;
    memcpy(mpp.payment_addr, HASH, 32);
    mpp.total_msat = 21000;
    hop.mpp = &mpp;
    memset(&attempt, 0, sizeof attempt);
    attempt.attempt_id = 1;
    attempt.route.total_amount_msat = 21021;
    attempt.route.hops = &hop;
    attempt.route.hops_len = 1;
    expect_ok(lps_register_attempt(store, HASH, &attempt, &payment), "lps_register_attempt");
    if (payment) {
        expect(payment->status == LPS_PAYMENT_STATUS_IN_FLIGHT, "in flight");
        expect_ok(lps_payment_need_wait_attempts(payment, &flag), "need_wait");
        expect(flag, "must wait for the shard");
    }
    lps_payment_free(payment);
    payment = NULL;

    memset(&settle, 0, sizeof settle); /* preimage: 32 zero bytes */
    expect_ok(lps_settle_attempt(store, HASH, 1, &settle, NULL), "lps_settle_attempt");
    expect_ok(lps_fetch_payment(store, HASH, &payment), "lps_fetch_payment");
    if (payment) {
        expect(payment->status == LPS_PAYMENT_STATUS_SUCCEEDED, "succeeded");
        expect(lps_payment_terminated(payment), "terminated");
        expect(payment->state.fees_paid_msat == 21, "fees");
        expect(payment->htlcs_len == 1 && payment->htlcs[0].settle != NULL, "settle info");
    }
    lps_payment_free(payment);

    expect(lps_init_payment(store, HASH, &info) == LPS_STATUS_ALREADY_PAID, "no double pay");
    expect(lps_last_error()[0] != '\0', "message after a failure");

    expect_ok(lps_payment_counts(store, &counts), "lps_payment_counts");
    expect(counts.total == 1 && counts.succeeded == 1, "counts");

    memset(&query, 0, sizeof query);
    query.include_incomplete = true;
    query.count_total = true;
    expect_ok(lps_query_payments(store, &query, &response), "lps_query_payments");
    if (response)
        expect(response->payments_len == 1 && response->total_count == 1 &&
                   response->first_index_offset == response->payments[0].sequence_num,
               "query page");
    lps_query_response_free(response);

    expect_ok(lps_store_close(store), "lps_store_close");
    unlink(path);
    rmdir(dir);
    printf("outside: %s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
