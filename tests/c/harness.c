/* Shared helpers of the C test harness (see harness.h). */

#define _XOPEN_SOURCE 700

#include "harness.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

unsigned h_cases, h_checks, h_failures, h_abuse_cases;
char h_sentinel_obj;

/* ---- checks ---------------------------------------------------------------------- */

bool h_check(bool ok, const char *name, const char *file, int line, const char *fmt, ...) {
    va_list ap;
    h_checks++;
    if (ok)
        return true;
    h_failures++;
    fprintf(stderr, "FAIL %s (%s:%d): ", name, file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return false;
}

bool h_check_u64(const char *name, const char *file, int line, uint64_t got, uint64_t want) {
    return h_check(got == want, name, file, line, "got %llu, want %llu",
                   (unsigned long long)got, (unsigned long long)want);
}

/* Checks a status and the last error that goes with it; `error` is lps_last_error()
 * read right after the call. */
static bool status_matches(const char *name, const char *file, int line, LpsStatus status,
                           LpsStatus want, const char *error) {
    bool ok = h_check(status == want, name, file, line, "status %s (%d), want %s; last error \"%s\"",
                      lps_status_name(status), (int)status, lps_status_name(want), error);
    if (want == LPS_STATUS_OK)
        ok &= h_check(error[0] == '\0', name, file, line,
                      "last error not empty after success: \"%s\"", error);
    else
        ok &= h_check(error[0] != '\0', name, file, line, "last error empty after %s",
                      lps_status_name(status));
    return ok;
}

bool h_check_status(const char *name, const char *file, int line, LpsStatus status,
                    LpsStatus want) {
    char error[1024];
    /* Copy first: lps_status_name is a library call too (it leaves the error alone, but
     * the contract only promises the pointer until the next call). */
    snprintf(error, sizeof error, "%s", lps_last_error());
    return status_matches(name, file, line, status, want, error);
}

/* ---- abuse cases ----------------------------------------------------------------- */

typedef struct snapshot {
    LpsStatus counts_status;
    LpsPaymentCounts counts;
    bool has_payment;
    uint64_t seq, remaining, htlcs, in_flight;
    uint8_t status;
    bool has_failure_reason;
    size_t inflight_len;
} snapshot;

static LpsStore *watched_store;
static uint8_t watched_hash[32];
static bool watching_hash;
static snapshot before;

void h_abuse_watch(LpsStore *store, const uint8_t *hash) {
    watched_store = store;
    watching_hash = hash != NULL;
    if (hash)
        memcpy(watched_hash, hash, 32);
}

static void take_snapshot(snapshot *s) {
    LpsPayment *p = NULL;
    LpsPaymentList *list = NULL;
    memset(s, 0, sizeof *s);
    if (!watched_store)
        return;
    s->counts_status = lps_payment_counts(watched_store, &s->counts);
    if (watching_hash && lps_fetch_payment(watched_store, watched_hash, &p) == LPS_STATUS_OK) {
        s->has_payment = true;
        s->seq = p->sequence_num;
        s->remaining = p->state.remaining_amt_msat;
        s->htlcs = p->htlcs_len;
        s->in_flight = p->state.num_attempts_in_flight;
        s->status = p->status;
        s->has_failure_reason = p->has_failure_reason;
        lps_payment_free(p);
    }
    if (lps_fetch_inflight_payments(watched_store, &list) == LPS_STATUS_OK) {
        s->inflight_len = list->len;
        lps_payment_list_free(list);
    }
}

void h_abuse_begin(void) {
    take_snapshot(&before);
}

static void check_unchanged(const char *name, const char *file, int line) {
    snapshot after;
    take_snapshot(&after);
    h_check(memcmp(&before, &after, sizeof before) == 0, name, file, line,
            "the store changed: counts total %llu -> %llu, in flight %llu -> %llu, "
            "watched payment htlcs %llu -> %llu",
            (unsigned long long)before.counts.total, (unsigned long long)after.counts.total,
            (unsigned long long)before.counts.in_flight,
            (unsigned long long)after.counts.in_flight, (unsigned long long)before.htlcs,
            (unsigned long long)after.htlcs);
}

void h_abuse_end(const char *name, const char *file, int line, LpsStatus status,
                 LpsStatus want) {
    char error[1024];
    snprintf(error, sizeof error, "%s", lps_last_error());
    h_abuse_cases++;
    h_check(want != LPS_STATUS_OK, name, file, line, "an abuse case must expect a failure");
    status_matches(name, file, line, status, want, error);
    check_unchanged(name, file, line);
}

void h_abuse_end_void(const char *name, const char *file, int line, int want_error) {
    char error[1024];
    snprintf(error, sizeof error, "%s", lps_last_error());
    h_abuse_cases++;
    if (want_error == 1)
        h_check(error[0] != '\0', name, file, line, "last error empty");
    else if (want_error == 0)
        h_check(error[0] == '\0', name, file, line, "last error not empty: \"%s\"", error);
    check_unchanged(name, file, line);
}

/* ---- temporary stores ------------------------------------------------------------ */

bool h_make_tempdir(char *buf, size_t len) {
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    snprintf(buf, len, "%s/lps-ctest-XXXXXX", base);
    return h_check(mkdtemp(buf) != NULL, "mkdtemp", __FILE__, __LINE__, "%s", buf);
}

void h_rmtree(const char *path) {
    struct stat st;
    DIR *d;
    struct dirent *ent;
    char child[1024];
    if (lstat(path, &st) != 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        unlink(path);
        return;
    }
    d = opendir(path);
    while (d && (ent = readdir(d)) != NULL) {
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
            continue;
        snprintf(child, sizeof child, "%s/%s", path, ent->d_name);
        h_rmtree(child);
    }
    if (d)
        closedir(d);
    rmdir(path);
}

LpsStatus h_store_open(const char *path, LpsStore **out) {
    LpsOptions opts;
    lps_options_default(&opts);
    opts.no_sync = true; /* tests only: fsync would dominate the run time */
    return lps_store_open(path, &opts, out);
}

const char *h_database_url = NULL;

/* A new, empty schema in the test cluster (with psql, the server's client); writes the
 * store's URL, whose search_path names it, to `out`. */
static bool make_schema(char *out, size_t len) {
    static unsigned next = 0;
    char schema[64], command[1600];
    snprintf(schema, sizeof schema, "lps_c_%ld_%u", (long)getpid(), next++);
    snprintf(command, sizeof command, "psql -qX -v ON_ERROR_STOP=1 -d '%s' -c 'CREATE SCHEMA %s'",
             h_database_url, schema);
    if (!CHECK("create a schema for the store", system(command) == 0))
        return false;
    snprintf(out, len, "%s%coptions=-csearch_path%%3D%s", h_database_url,
             strchr(h_database_url, '?') ? '&' : '?', schema);
    return true;
}

bool h_env_open(h_env *e) {
    memset(e, 0, sizeof *e);
    if (!h_make_tempdir(e->dir, sizeof e->dir))
        return false;
    if (h_database_url) {
        if (!make_schema(e->path, sizeof e->path))
            return false;
    } else {
        snprintf(e->path, sizeof e->path, "%s/store.db", e->dir);
    }
    return CHECK_OK("open a store", h_store_open(e->path, &e->store));
}

bool h_env_reopen(h_env *e) {
    LpsStatus st = lps_store_close(e->store);
    e->store = NULL;
    if (!CHECK_STATUS("close before reopening", st, LPS_STATUS_OK))
        return false;
    return CHECK_OK("reopen the store", h_store_open(e->path, &e->store));
}

void h_env_close(h_env *e) {
    if (e->store)
        CHECK_OK("close the store", lps_store_close(e->store));
    e->store = NULL;
    if (e->dir[0])
        h_rmtree(e->dir);
}

/* ---- payments ---------------------------------------------------------------------- */

void h_pay_make(h_pay *p, uint32_t n) {
    uint8_t seed[16] = "lps-c-test-pay";
    seed[14] = (uint8_t)(n >> 8);
    seed[15] = (uint8_t)n;
    sha256(seed, sizeof seed, p->preimage);
    p->preimage[0] ^= (uint8_t)(n >> 24);
    p->preimage[1] ^= (uint8_t)(n >> 16);
    sha256(p->preimage, 32, p->hash);
}

void h_creation(LpsCreationInfo *ci, const h_pay *p, uint64_t value_msat, int64_t time_ns) {
    memset(ci, 0, sizeof *ci);
    memcpy(ci->payment_identifier, p->hash, 32);
    ci->value_msat = value_msat;
    ci->creation_time_ns = time_ns;
}

void h_attempt_make(h_attempt *a, uint64_t id, uint64_t amt, uint64_t fee) {
    int i;
    memset(a, 0, sizeof *a);
    for (i = 0; i < 2; i++) {
        memset(a->hops[i].pub_key, 0x02 + i, 33);
        a->hops[i].channel_id = (800000ULL << 40) | (uint64_t)(i + 1);
        a->hops[i].outgoing_time_lock = 850000 - 40 * (uint32_t)i;
        a->hops[i].amt_to_forward_msat = amt;
    }
    a->info.attempt_id = id;
    memset(a->info.session_key, (int)(id & 0xff), 32);
    a->info.session_key[0] = 0x5e;
    a->info.route.total_time_lock = 850100;
    a->info.route.total_amount_msat = amt + fee;
    memset(a->info.route.source_pub_key, 0x03, 33);
    a->info.route.hops = a->hops;
    a->info.route.hops_len = 2;
    a->info.attempt_time_ns = H_TIME + (int64_t)id * 1000;
}

void h_attempt_mpp(h_attempt *a, uint8_t addr_byte, uint64_t total_msat) {
    memset(a->mpp.payment_addr, addr_byte, 32);
    a->mpp.total_msat = total_msat;
    a->hops[1].mpp = &a->mpp;
}

bool h_init(const char *name, LpsStore *s, const h_pay *p, uint64_t value_msat) {
    LpsCreationInfo ci;
    h_creation(&ci, p, value_msat, H_TIME);
    return CHECK_OK(name, lps_init_payment(s, p->hash, &ci));
}

bool h_register(const char *name, LpsStore *s, const h_pay *p, uint64_t id, uint64_t amt,
                uint64_t mpp_total) {
    h_attempt a;
    h_attempt_make(&a, id, amt, H_FEE);
    if (mpp_total)
        h_attempt_mpp(&a, 0xad, mpp_total);
    return CHECK_OK(name, lps_register_attempt(s, p->hash, &a.info, NULL));
}

bool h_settle(const char *name, LpsStore *s, const h_pay *p, uint64_t id) {
    LpsSettleInfo si;
    memcpy(si.preimage, p->preimage, 32);
    si.settle_time_ns = H_TIME + 5000000000LL;
    return CHECK_OK(name, lps_settle_attempt(s, p->hash, id, &si, NULL));
}

bool h_fail_attempt(const char *name, LpsStore *s, const h_pay *p, uint64_t id) {
    LpsFailInfo fi;
    memset(&fi, 0, sizeof fi);
    fi.fail_time_ns = H_TIME + 4000000000LL;
    fi.reason = LPS_HTLC_FAIL_REASON_UNREADABLE;
    return CHECK_OK(name, lps_fail_attempt(s, p->hash, id, &fi, NULL));
}

LpsPayment *h_fetch(const char *name, LpsStore *s, const uint8_t hash[32]) {
    LpsPayment *p = NULL;
    if (!CHECK_OK(name, lps_fetch_payment(s, hash, &p)))
        return NULL;
    CHECK(name, p != NULL);
    return p;
}

/* ---- expectations ------------------------------------------------------------------ */

static void field(char *buf, size_t len, const char *name, const char *what) {
    snprintf(buf, len, "%s: %s", name, what);
}

void h_expect_counts(const char *name, LpsStore *s, uint64_t total, uint64_t initiated,
                     uint64_t in_flight, uint64_t succeeded, uint64_t failed) {
    LpsPaymentCounts c;
    char n[256];
    field(n, sizeof n, name, "lps_payment_counts");
    if (!CHECK_OK(n, lps_payment_counts(s, &c)))
        return;
    field(n, sizeof n, name, "counts.total");
    CHECK_U64(n, c.total, total);
    field(n, sizeof n, name, "counts.initiated");
    CHECK_U64(n, c.initiated, initiated);
    field(n, sizeof n, name, "counts.in_flight");
    CHECK_U64(n, c.in_flight, in_flight);
    field(n, sizeof n, name, "counts.succeeded");
    CHECK_U64(n, c.succeeded, succeeded);
    field(n, sizeof n, name, "counts.failed");
    CHECK_U64(n, c.failed, failed);
    field(n, sizeof n, name, "counts add up");
    CHECK_U64(n, c.initiated + c.in_flight + c.succeeded + c.failed, c.total);
}

void h_expect_state(const char *name, const LpsPayment *p, uint8_t status,
                    uint32_t in_flight, uint64_t remaining, uint64_t fees, bool settled,
                    bool failed) {
    char n[256];
    field(n, sizeof n, name, "payment present");
    if (!CHECK(n, p != NULL))
        return;
    field(n, sizeof n, name, "status");
    CHECK_U64(n, p->status, status);
    field(n, sizeof n, name, "state.num_attempts_in_flight");
    CHECK_U64(n, p->state.num_attempts_in_flight, in_flight);
    field(n, sizeof n, name, "state.remaining_amt_msat");
    CHECK_U64(n, p->state.remaining_amt_msat, remaining);
    field(n, sizeof n, name, "state.fees_paid_msat");
    CHECK_U64(n, p->state.fees_paid_msat, fees);
    field(n, sizeof n, name, "state.has_settled_htlc");
    CHECK_U64(n, p->state.has_settled_htlc, settled);
    field(n, sizeof n, name, "state.payment_failed");
    CHECK_U64(n, p->state.payment_failed, failed);
}

void h_expect_decisions(const char *name, const LpsPayment *p, bool terminated,
                        bool need_wait, bool allow_more) {
    bool got;
    char n[256];
    if (!p)
        return;
    field(n, sizeof n, name, "lps_payment_terminated");
    CHECK_U64(n, lps_payment_terminated(p), terminated);
    field(n, sizeof n, name, "lps_payment_need_wait_attempts");
    if (CHECK_OK(n, lps_payment_need_wait_attempts(p, &got)))
        CHECK_U64(n, got, need_wait);
    field(n, sizeof n, name, "lps_payment_allow_more_attempts");
    if (CHECK_OK(n, lps_payment_allow_more_attempts(p, &got)))
        CHECK_U64(n, got, allow_more);
}

/* ---- misc --------------------------------------------------------------------------- */

/* Weak: NULL unless the AddressSanitizer runtime is linked in. */
extern int __asan_address_is_poisoned(void const volatile *addr) __attribute__((weak));

bool h_asan_active(void) {
    bool poisoned;
    char *p;
    if (!__asan_address_is_poisoned)
        return false;
    /* The byte after a 16-byte block is a redzone only under ASan. */
    p = calloc(16, 1);
    if (!p)
        return false;
    poisoned = __asan_address_is_poisoned(p + 16) && !__asan_address_is_poisoned(p + 15);
    free(p);
    return poisoned;
}

void h_sleep_ms(unsigned ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0) {
    }
}

int64_t h_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
