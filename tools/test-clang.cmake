# test-clang.cmake - ctest entries of this build that run the fuzz targets
# and the sanitized tests of another, clang build configured with
# -DHK_FUZZ=ON -DHK_SANITIZE=ON and named by HK_CLANG_TEST_DIR. tools/test.sh
# makes that build (build-clang) and sets the variable; the root
# CMakeLists.txt includes this file only then. It builds nothing itself: an
# entry whose program did not compile fails.
#
#   fuzz/<target>           label fuzz: fuzz/run.sh over a copy of the seed
#                           corpus, then fresh inputs, HK_FUZZ_TEST_SECONDS
#   sanitize/unit/<test>    label sanitize: every cmocka test, reports on
#                           stderr (a report fails the test)
#   sanitize/system/<test>  label sanitize: every system test (but those in
#                           HK_SANITIZE_SYSTEM_SKIP) against the sanitized
#                           programs; a report file from any process fails
#                           it (tools/sanitize-check.sh)
# The defaults keep tools/test.sh under 15 minutes on the 2-core machine
# (docs/testing.md); tools/fuzz.sh runs the fuzz targets for longer.
set(HK_FUZZ_TEST_SECONDS 20 CACHE STRING "Seconds each fuzz/<target> ctest entry runs")
set(HK_SANITIZE_SYSTEM_SKIP ""
    CACHE STRING "tests/system/<name>.py files NOT also run against the sanitized build")

set(_hk_clang ${HK_CLANG_TEST_DIR})
if(EXISTS ${_hk_clang}/CMakeCache.txt)
  load_cache(${_hk_clang} READ_WITH_PREFIX _hk_clang_ HK_SANITIZE_LOG_DIR)
endif()
if(_hk_clang_HK_SANITIZE_LOG_DIR)
  set(_hk_clang_logs ${_hk_clang_HK_SANITIZE_LOG_DIR})
else()
  message(WARNING "${_hk_clang} has no HK_SANITIZE_LOG_DIR: daemons' sanitizer reports go unseen")
  set(_hk_clang_logs ${_hk_clang}/sanitizer-logs)
endif()

file(GLOB _hk_fuzz CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/fuzz/fuzz_*.c)
foreach(src ${_hk_fuzz})
  get_filename_component(name ${src} NAME_WE)
  # In a lane of its own (resource "fuzz", one slot) at the lowest CPU
  # priority: a fuzzer runs for a fixed time whatever CPU it gets, so it
  # takes what the other tests, mostly waiting on daemons, leave idle.
  add_test(NAME fuzz/${name}
    COMMAND nice -n 19 sh ${CMAKE_SOURCE_DIR}/fuzz/run.sh ${_hk_clang}/fuzz/${name}
            ${CMAKE_SOURCE_DIR}/fuzz/corpus/${name} ${HK_FUZZ_TEST_SECONDS}
            ${_hk_clang}/crashes/${name})
  math(EXPR _hk_limit "${HK_FUZZ_TEST_SECONDS} * 2 + 120")
  set_tests_properties(fuzz/${name} PROPERTIES LABELS fuzz TIMEOUT ${_hk_limit}
    RESOURCE_GROUPS fuzz:1)
endforeach()

file(GLOB _hk_unit CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/unit/test_*.c)
foreach(src ${_hk_unit})
  get_filename_component(name ${src} NAME_WE)
  add_test(NAME sanitize/unit/${name} COMMAND ${_hk_clang}/tests/${name})
  # The build compiles in log_path=<its log dir>; here reports go to the
  # test's own output instead.
  set_tests_properties(sanitize/unit/${name} PROPERTIES LABELS sanitize TIMEOUT 300
    RESOURCE_GROUPS cpu:1
    ENVIRONMENT "HK_TEST_DATA=${CMAKE_SOURCE_DIR}/tests/data;HK_BUILD_DIR=${_hk_clang};ASAN_OPTIONS=log_path=stderr;UBSAN_OPTIONS=log_path=stderr")
endforeach()

file(GLOB _hk_system CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/system/test_*.py)
foreach(src ${_hk_system})
  get_filename_component(name ${src} NAME_WE)
  if(name IN_LIST HK_SANITIZE_SYSTEM_SKIP)
    continue()
  endif()
  add_test(NAME sanitize/system/${name}
    COMMAND sh ${CMAKE_SOURCE_DIR}/tools/sanitize-check.sh ${_hk_clang_logs}
            /usr/bin/python3 -m pytest -q -p no:cacheprovider ${src})
  # Each run sends its reports to its own directory (sanitize-check.sh), so
  # these run in parallel like the rest.
  set_tests_properties(sanitize/system/${name} PROPERTIES LABELS sanitize TIMEOUT 900
    RESOURCE_GROUPS cpu:1 COST 40
    ENVIRONMENT "HK_BUILD_DIR=${_hk_clang};HK_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endforeach()
