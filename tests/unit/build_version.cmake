# cmake/write_version.cmake (zkstandby --version's commit) against throwaway
# git repositories: clean, dirty, new commit, not a checkout, override.
add_test(NAME build_version
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/build_version_test.py --source-dir ${PROJECT_SOURCE_DIR})
set_tests_properties(build_version PROPERTIES LABELS unit TIMEOUT 60)
