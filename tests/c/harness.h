/* Shared helpers of the C test harness: named checks and counters, temporary stores,
 * payment and attempt builders, and expectations on payments and counts. */

#ifndef LPS_TEST_HARNESS_H
#define LPS_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "lnpaystore.h"
#include "sha256.h"

/* ---- cases and checks ---------------------------------------------------------- */

typedef struct h_case {
    const char *name;
    void (*run)(void);
} h_case;

/* A suite: a named table of cases. */
typedef struct h_suite {
    const char *name;
    const h_case *cases;
    size_t len;
} h_suite;

extern const h_suite lifecycle_suite, subscription_suite, mission_control_suite, abuse_suite,
    import_suite, fork_suite;

extern unsigned h_cases, h_checks, h_failures, h_abuse_cases;

/* Records one named check; prints its name, place and detail when it fails. */
bool h_check(bool ok, const char *name, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
bool h_check_u64(const char *name, const char *file, int line, uint64_t got, uint64_t want);
/* status == want; lps_last_error() is "" after OK and non-empty after a failure. Must be
 * the first library call after `status` was returned (it reads the last error). */
bool h_check_status(const char *name, const char *file, int line, LpsStatus status,
                    LpsStatus want);

#define CHECK(name, cond) h_check((cond), (name), __FILE__, __LINE__, "%s", #cond)
#define REQUIRE(name, cond)                                                              \
    do {                                                                                 \
        if (!CHECK(name, cond))                                                          \
            return;                                                                      \
    } while (0)
#define CHECK_U64(name, got, want)                                                       \
    h_check_u64((name), __FILE__, __LINE__, (uint64_t)(got), (uint64_t)(want))
#define CHECK_STATUS(name, call, want) h_check_status((name), __FILE__, __LINE__, (call), (want))
#define CHECK_OK(name, call) CHECK_STATUS(name, call, LPS_STATUS_OK)
#define CHECK_MEM(name, a, b, n)                                                         \
    h_check(memcmp((a), (b), (n)) == 0, (name), __FILE__, __LINE__, "%s", "bytes differ")

/* ---- abuse cases ----------------------------------------------------------------- */

/* The store whose counts and watched payment must not change under an invalid call
 * (NULL: nothing to watch). */
void h_abuse_watch(LpsStore *store, const uint8_t *hash);
void h_abuse_begin(void);
/* One invalid call: `status` == want (never OK), a non-empty lps_last_error(), and the
 * watched store unchanged. */
void h_abuse_end(const char *name, const char *file, int line, LpsStatus status, LpsStatus want);
/* One call without a status (frees, close, ...): it returned; the last error is
 * non-empty (want_error 1), empty (0) or not looked at (-1); the store is unchanged. */
void h_abuse_end_void(const char *name, const char *file, int line, int want_error);

#define ABUSE(name, call, want)                                                          \
    do {                                                                                 \
        h_abuse_begin();                                                                 \
        h_abuse_end((name), __FILE__, __LINE__, (call), (want));                         \
    } while (0)
#define ABUSE_VOID(name, stmt, want_error)                                               \
    do {                                                                                 \
        h_abuse_begin();                                                                 \
        stmt;                                                                            \
        h_abuse_end_void((name), __FILE__, __LINE__, (want_error));                      \
    } while (0)

/* A pointer value no library call may write (out-parameters are pre-filled with it). */
extern char h_sentinel_obj;
#define H_SENTINEL ((void *)&h_sentinel_obj)

/* ---- temporary stores ------------------------------------------------------------ */

typedef struct h_env {
    char dir[512];
    char path[1200]; /* dir/store.db, or a database URL */
    LpsStore *store;
} h_env;

/* When set (main: LNPAYSTORE_TEST_PG_URL), h_env_open puts each store in a fresh schema
 * of this PostgreSQL cluster instead of a file. */
extern const char *h_database_url;

/* A fresh temporary directory and a store in it (no_sync). */
bool h_env_open(h_env *e);
/* Opens a fresh store for a case; on failure the case ends there. */
#define ENV_OPEN(e)                                                                      \
    do {                                                                                 \
        if (!h_env_open(e)) {                                                            \
            h_env_close(e);                                                              \
            return;                                                                      \
        }                                                                                \
    } while (0)
/* Closes the store (checking the status) and opens it again. */
bool h_env_reopen(h_env *e);
/* Closes the store if open and removes the directory. */
void h_env_close(h_env *e);
bool h_make_tempdir(char *buf, size_t len);
void h_rmtree(const char *path);
LpsStatus h_store_open(const char *path, LpsStore **out);

/* ---- payments ---------------------------------------------------------------------- */

typedef struct h_pay {
    uint8_t preimage[32];
    uint8_t hash[32]; /* SHA-256(preimage) */
} h_pay;

/* Payment number n: a preimage derived from n and its hash. */
void h_pay_make(h_pay *p, uint32_t n);
/* Creation info for p, no payment request or records. */
void h_creation(LpsCreationInfo *ci, const h_pay *p, uint64_t value_msat, int64_t time_ns);

#define H_FEE 100            /* fee of every route built by h_attempt_make, msat */
#define H_TIME 1700000000000000000LL /* a creation time, unix ns */

/* An attempt whose route pays `amt` to the receiver over two hops for `fee`. It points
 * into itself: build it in place, never copy it. */
typedef struct h_attempt {
    LpsHop hops[2];
    LpsMpp mpp;
    LpsAttemptInfo info;
} h_attempt;

void h_attempt_make(h_attempt *a, uint64_t id, uint64_t amt, uint64_t fee);
/* Adds an MPP record (payment address filled with addr_byte) to the final hop. */
void h_attempt_mpp(h_attempt *a, uint8_t addr_byte, uint64_t total_msat);

/* Life-cycle steps that must succeed (checked under `name`). mpp_total 0 = no MPP. */
bool h_init(const char *name, LpsStore *s, const h_pay *p, uint64_t value_msat);
bool h_register(const char *name, LpsStore *s, const h_pay *p, uint64_t id, uint64_t amt,
                uint64_t mpp_total);
bool h_settle(const char *name, LpsStore *s, const h_pay *p, uint64_t id);
bool h_fail_attempt(const char *name, LpsStore *s, const h_pay *p, uint64_t id);
/* The payment (free with lps_payment_free), or NULL after a failed check. */
LpsPayment *h_fetch(const char *name, LpsStore *s, const uint8_t hash[32]);

/* ---- expectations ------------------------------------------------------------------ */

void h_expect_counts(const char *name, LpsStore *s, uint64_t total, uint64_t initiated,
                     uint64_t in_flight, uint64_t succeeded, uint64_t failed);
void h_expect_state(const char *name, const LpsPayment *p, uint8_t status,
                    uint32_t in_flight, uint64_t remaining, uint64_t fees, bool settled,
                    bool failed);
/* lps_payment_terminated / need_wait_attempts / allow_more_attempts. */
void h_expect_decisions(const char *name, const LpsPayment *p, bool terminated,
                        bool need_wait, bool allow_more);

/* ---- misc --------------------------------------------------------------------------- */

/* Whether AddressSanitizer is active in this process (a heap redzone is poisoned). */
bool h_asan_active(void);
void h_sleep_ms(unsigned ms);
int64_t h_now_ms(void);

#endif
