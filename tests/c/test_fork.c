/* Handles across fork() (docs/behaviour.md, Processes): a forked child that calls the
 * library with its parent's store, mission-control or subscription handle gets
 * LPS_STATUS_FORKED from every call and touches nothing; freeing the handles there
 * releases only memory. The parent's store keeps working and passes the integrity check
 * after a reopen. */

#define _XOPEN_SOURCE 700

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* What the child reports, one status per call, in this order. */
enum {
    C_INIT,
    C_FETCH,
    C_COUNTS,
    C_DELETE_ALL,
    C_COMPACT,
    C_INTEGRITY,
    C_SUBSCRIBE,
    C_NEXT,
    C_MC_ADD,
    C_MC_FLUSH,
    C_MC_CLEAR,
    C_MC_CLOSE,
    C_REOPEN_HERE,
    C_STORE_CLOSE,
    C_LAST_ERROR_SET, /* 1 when lps_subscription_close left a message */
    C_COUNT
};

static const char *const CALL_NAMES[C_COUNT] = {
    "lps_init_payment",      "lps_fetch_payment",   "lps_payment_counts",
    "lps_delete_payments",   "lps_store_compact",   "lps_check_integrity",
    "lps_subscribe_payment", "lps_subscription_next", "lps_mc_add_result",
    "lps_mc_flush",          "lps_mc_clear",        "lps_mc_close",
    "lps_store_open (same path)", "lps_store_close", "lps_subscription_close message",
};

static void mc_result(LpsMcResult *r, LpsMcHop *hop, uint64_t id) {
    memset(r, 0, sizeof *r);
    memset(hop, 0, sizeof *hop);
    hop->channel_id = 7;
    memset(hop->pub_key, 0x02, 33);
    hop->amt_to_fwd_msat = 1000;
    r->id = id;
    r->time_fwd_ns = H_TIME;
    r->time_reply_ns = H_TIME + (int64_t)id;
    memset(r->route.source_pub_key, 0x03, 33);
    r->route.total_amount_msat = 1000;
    r->route.hops = hop;
    r->route.hops_len = 1;
    r->success = true;
}

/* The child: every call on the parent's handles, statuses written to `fd`. Never
 * returns; _exit skips the leak checkers' exit hooks (the parent's objects stay
 * allocated here by design). */
static void child(int fd, const char *path, LpsStore *s, LpsMissionControl *mc,
                  LpsSubscription *sub, const h_pay *known) {
    int32_t got[C_COUNT];
    LpsCreationInfo ci;
    LpsPayment *p = NULL;
    LpsPaymentCounts counts;
    LpsSubscription *sub2 = NULL;
    LpsMcResult r;
    LpsMcHop hop;
    LpsStore *again = NULL;
    h_pay fresh;
    alarm(20); /* a call that hangs here must fail the test, not stall it */
    h_pay_make(&fresh, 99);
    h_creation(&ci, &fresh, 1000, H_TIME);
    mc_result(&r, &hop, 2);
    got[C_INIT] = lps_init_payment(s, fresh.hash, &ci);
    got[C_FETCH] = lps_fetch_payment(s, known->hash, &p);
    got[C_COUNTS] = lps_payment_counts(s, &counts);
    got[C_DELETE_ALL] = lps_delete_payments(s, false, false, NULL);
    got[C_COMPACT] = lps_store_compact(s);
    got[C_INTEGRITY] = lps_check_integrity(s);
    got[C_SUBSCRIBE] = lps_subscribe_payment(s, known->hash, &sub2);
    got[C_NEXT] = lps_subscription_next(sub, 0, &p);
    got[C_MC_ADD] = lps_mc_add_result(mc, &r);
    got[C_MC_FLUSH] = lps_mc_flush(mc);
    got[C_MC_CLEAR] = lps_mc_clear(mc);
    got[C_REOPEN_HERE] = lps_store_open(path, NULL, &again);
    lps_subscription_close(sub);
    got[C_LAST_ERROR_SET] = lps_last_error()[0] != '\0';
    lps_subscription_free(sub);
    got[C_MC_CLOSE] = lps_mc_close(mc);
    got[C_STORE_CLOSE] = lps_store_close(s);
    if (write(fd, got, sizeof got) != (ssize_t)sizeof got)
        _exit(3);
    _exit(0);
}

static void forked_child_touches_nothing(void) {
    h_env e;
    LpsStore *s = NULL;
    LpsMissionControl *mc = NULL;
    LpsSubscription *sub = NULL;
    LpsPayment *p = NULL;
    LpsMcResult r;
    LpsMcHop hop;
    LpsMcStats stats;
    h_pay a, b;
    int fds[2], wstatus = 0, i;
    int32_t got[C_COUNT];
    pid_t pid;

    memset(&e, 0, sizeof e);
    REQUIRE("temp dir", h_make_tempdir(e.dir, sizeof e.dir));
    snprintf(e.path, sizeof e.path, "%s/store.db", e.dir);
    /* Durable: the parent has a log and its sync thread, which the child lacks. */
    if (!CHECK_OK("open", lps_store_open(e.path, NULL, &s))) {
        h_env_close(&e);
        return;
    }
    h_pay_make(&a, 1);
    h_pay_make(&b, 2);
    h_init("a", s, &a, 1000);
    h_register("a shard", s, &a, 1, 1000, 0);
    h_init("b", s, &b, 500);
    CHECK_OK("mc open", lps_mc_open(s, NULL, NULL, &mc));
    mc_result(&r, &hop, 1);
    CHECK_OK("mc add (queued in the parent)", lps_mc_add_result(mc, &r));
    CHECK_OK("subscribe", lps_subscribe_payment(s, a.hash, &sub));
    REQUIRE("pipe", pipe(fds) == 0);
    fflush(stdout); /* the child must not print the parent's buffered output again */
    fflush(stderr);

    pid = fork();
    if (pid == 0) {
        close(fds[0]);
        child(fds[1], e.path, s, mc, sub, &a);
    }
    close(fds[1]);
    REQUIRE("fork", pid > 0);
    memset(got, 0xff, sizeof got);
    CHECK("the child reported", read(fds[0], got, sizeof got) == (ssize_t)sizeof got);
    close(fds[0]);
    CHECK("the child ended", waitpid(pid, &wstatus, 0) == pid);
    CHECK("the child ended by itself (no hang, no crash)", !WIFSIGNALED(wstatus));
    for (i = 0; i < C_COUNT; i++) {
        int32_t want = LPS_STATUS_FORKED;
        if (i == C_REOPEN_HERE)
            want = LPS_STATUS_LOCKED; /* the parent's lock holds in the child too */
        if (i == C_LAST_ERROR_SET)
            want = 1;
        h_check(got[i] == want, "child call", __FILE__, __LINE__, "%s: got %d, want %d",
                CALL_NAMES[i], (int)got[i], (int)want);
    }

    /* The parent goes on: its subscription, mission control and store all work. */
    if (CHECK_OK("first event", lps_subscription_next(sub, 1000, &p)))
        lps_payment_free(p);
    h_settle("settle a after the fork", s, &a, 1);
    if (CHECK_OK("settle event", lps_subscription_next(sub, 5000, &p)))
        lps_payment_free(p);
    CHECK_OK("mc flush", lps_mc_flush(mc));
    CHECK_OK("mc stats", lps_mc_stats(mc, &stats));
    CHECK_U64("the parent's queued result is stored, the child's is not", stats.stored, 1);
    lps_subscription_free(sub);
    CHECK_OK("mc close", lps_mc_close(mc));
    h_expect_counts("parent counts", s, 2, 1, 0, 1, 0);
    CHECK_OK("close", lps_store_close(s));

    CHECK_OK("reopen", lps_store_open(e.path, NULL, &s));
    h_expect_counts("after reopen", s, 2, 1, 0, 1, 0);
    CHECK_OK("integrity after reopen", lps_check_integrity(s));
    CHECK_OK("close again", lps_store_close(s));
    h_rmtree(e.dir);
}

static const h_case cases[] = {
    {"forked_child_touches_nothing", forked_child_touches_nothing},
};

const h_suite fork_suite = {"fork", cases, sizeof cases / sizeof cases[0]};
