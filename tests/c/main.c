/* The C test harness: runs every suite through the C ABI and prints one summary line.
 *
 * Built twice by the Makefile: with AddressSanitizer + UBSan (LPS_EXPECT_ASAN=1; the run
 * fails if ASan is not really active) and without (LPS_EXPECT_ASAN=0) for valgrind.
 * Exit status: 0 when every check passed. Optional argument: run only the cases whose
 * name contains it. */

#include <stdio.h>
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

    printf("c-tests: %u cases, %u abuse cases, %u checks, %u failures\n", h_cases,
           h_abuse_cases, h_checks, h_failures);
    return h_failures == 0 ? 0 : 1;
}
