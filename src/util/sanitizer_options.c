/*
 * sanitizer_options.c - default AddressSanitizer/UBSan options for a
 * -DHK_SANITIZE=ON build (tools/test-sanitize.sh).
 *
 * master starts daemons with only the import_environment variables (in a
 * sanitizer build it also keeps ASAN_OPTIONS and friends, so a test can
 * point the reports at its own directory), and a set-ID program (postdrop)
 * ignores the variables. The sanitizer runtimes ask these hooks for
 * defaults before reading the environment (which still overrides them). With
 * HK_SANITIZE_LOG_DIR set at configure time, every report goes to a file
 * HK_SANITIZE_LOG_DIR/asan.PROGRAM.PID (or ubsan.PROGRAM.PID), where the
 * test script finds reports of processes whose stderr nobody reads;
 * otherwise to stderr. (GCC's separate UBSan runtime ignores log_path:
 * its reports always go to stderr.) Set-ID programs run without leak
 * checking (see below). LeakSanitizer reads the suppressions in
 * HK_LSAN_SUPPRESSIONS (tools/lsan.supp: third-party false positives).
 * The root CMakeLists.txt links this file's object into every program
 * only in that build (as an object: a library member would never be
 * pulled in, see below). Nothing here runs in a normal build.
 */
#include "util/sanitizer.h"

#if HK_SANITIZER_BUILD

#include <sys/auxv.h>

#ifdef HK_SANITIZE_LOG_DIR
#define LOG_TO(name) ":log_path=" HK_SANITIZE_LOG_DIR "/" name
#else
#define LOG_TO(name) ""
#endif

#define COMMON ":abort_on_error=1:strict_string_checks=1:log_exe_name=1"

/*
 * Strong definitions: the runtimes define weak ones that return "". With
 * GCC the runtime is a shared library and any definition in the program
 * wins; clang links its runtime statically, ahead of our objects, and
 * between two weak definitions the first one linked would win.
 */
const char *__asan_default_options(void);
const char *__ubsan_default_options(void);
const char *__lsan_default_options(void);

const char *__asan_default_options(void)
{
    /*
     * A set-ID program run by another user (postdrop, set-group-ID) is
     * not traceable by its own uid/gid, so LeakSanitizer cannot stop its
     * threads at exit and fails the program instead. Leaks are not
     * checked there; every other error still is. (The runtime also
     * ignores ASAN_OPTIONS in such a process.)
     */
    if (getauxval(AT_SECURE))
        return "detect_leaks=0" COMMON LOG_TO("asan");
    return "detect_leaks=1" COMMON LOG_TO("asan");
}

const char *__ubsan_default_options(void)
{
#ifdef __clang__
    /* One runtime with ASan: the log_path above holds for both. */
    return "print_stacktrace=1:halt_on_error=1:log_exe_name=1";
#else
    return "print_stacktrace=1:halt_on_error=1:log_exe_name=1" LOG_TO("ubsan");
#endif
}

/* Third-party false positives only (tools/lsan.supp says why for each). */
const char *__lsan_default_options(void)
{
#ifdef HK_LSAN_SUPPRESSIONS
    return "print_suppressions=0:suppressions=" HK_LSAN_SUPPRESSIONS;
#else
    return "";
#endif
}

#else

typedef int hk_sanitizer_options_unused;    /* not a sanitizer build */

#endif
