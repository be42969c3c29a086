# The progress line of sync and diff (src/cli/progress.cpp, compiled in: the
# CLI is an executable, not a library).
zks_unit_test(cli_progress_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/cli_progress_test.cpp ${PROJECT_SOURCE_DIR}/src/cli/progress.cpp
  LIBS zks_reconcile)
target_include_directories(cli_progress_test PRIVATE ${PROJECT_SOURCE_DIR}/src)
