/*
 * sanitizer.h - is this a sanitizer build? One place for the test.
 *
 * HK_SANITIZER_BUILD is 1 when the compiler instruments the code with
 * AddressSanitizer (clang's __has_feature or GCC's __SANITIZE_ADDRESS__),
 * 0 otherwise. Only test plumbing depends on it (default options in
 * sanitizer_options.c, master letting the option variables through to
 * daemons); nothing that changes what the product does.
 */
#ifndef HK_UTIL_SANITIZER_H
#define HK_UTIL_SANITIZER_H

#if defined(__SANITIZE_ADDRESS__)
#define HK_SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HK_SANITIZER_BUILD 1
#endif
#endif

#ifndef HK_SANITIZER_BUILD
#define HK_SANITIZER_BUILD 0
#endif

/* The variables a sanitized program reads its options from. */
#define HK_SANITIZER_ENV_VARS {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"}

#endif
