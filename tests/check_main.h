/*
** check_main.h — the main() every Check suite shares: run the suite (Check
** forks each test, so a crash is one failure) and exit non-zero on failure.
*/
#ifndef GPX_CHECK_MAIN_H
#define GPX_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

#define GPX_CHECK_MAIN(suite_fn)                        \
  int main(void) {                                      \
    SRunner *sr = srunner_create(suite_fn());           \
    srunner_run_all(sr, CK_ENV);                        \
    int failed = srunner_ntests_failed(sr);             \
    srunner_free(sr);                                   \
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;   \
  }

#endif
