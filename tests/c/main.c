/* The C test harness: runs every suite through the C ABI and prints one summary line.
 *
 * Built twice by the Makefile: with AddressSanitizer + UBSan (LPS_EXPECT_ASAN=1; the run
 * fails if ASan is not really active) and without (LPS_EXPECT_ASAN=0) for valgrind.
 * Exit status: 0 when every check passed. Optional argument: run only the cases whose
 * name contains it. */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#ifndef LPS_EXPECT_ASAN
#error "build with -DLPS_EXPECT_ASAN=0 or 1"
#endif

static void run_suite(const h_suite *suite, const char *filter) {
    size_t i;
    for (i = 0; i < suite->len; i++) {
        const h_case *c = &suite->cases[i];
        unsigned failures = h_failures;
        if (filter && !strstr(c->name, filter))
            continue;
        h_cases++;
        c->run();
        printf("%-4s %s/%s\n", h_failures == failures ? "ok" : "FAIL", suite->name, c->name);
        fflush(stdout);
    }
}

struct database_pass {
    const h_suite *suite;
    const char *filter;
};

static void *run_database_pass(void *arg) {
    struct database_pass *pass = arg;
    run_suite(pass->suite, pass->filter);
    return NULL;
}

int main(int argc, char **argv) {
    const char *filter = argc > 1 ? argv[1] : NULL;
    bool asan = h_asan_active();

    printf("lnpaystore %s, ABI %u; AddressSanitizer %s\n", lps_version(),
           (unsigned)lps_abi_version(), asan ? "active" : "not linked");
    CHECK("ASan linked as the build intends", asan == (bool)LPS_EXPECT_ASAN);
    CHECK("ABI version of the library matches the header",
          lps_abi_version() == LPS_ABI_VERSION);

    run_suite(&lifecycle_suite, filter);
    run_suite(&subscription_suite, filter);
    run_suite(&mission_control_suite, filter);
    run_suite(&abuse_suite, filter);
    run_suite(&import_suite, filter);
    run_suite(&fork_suite, filter);

    /* The life cycle again, each store in PostgreSQL (under ci/with-postgres.sh). It runs
     * on a thread of its own: the PostgreSQL client gives the calling thread a Rust thread
     * handle, which the main thread, unlike others, never frees (valgrind would count it
     * as possibly lost at exit). */
    h_database_url = getenv("LNPAYSTORE_TEST_PG_URL");
    if (h_database_url && *h_database_url) {
        pthread_t pass;
        struct database_pass arg = {&lifecycle_suite, filter};
        printf("== life cycle on PostgreSQL\n");
        if (CHECK("the PostgreSQL pass starts",
                  pthread_create(&pass, NULL, run_database_pass, &arg) == 0))
            pthread_join(pass, NULL);
    } else {
        printf("LNPAYSTORE_TEST_PG_URL is not set: the life cycle on PostgreSQL is skipped\n");
    }
    h_database_url = NULL;

    printf("c-tests: %u cases, %u abuse cases, %u checks, %u failures\n", h_cases,
           h_abuse_cases, h_checks, h_failures);
    return h_failures == 0 ? 0 : 1;
}
