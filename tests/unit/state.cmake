zks_unit_test(state_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/state_records_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/state_fence_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/state_counters_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/state_election_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/state_security_test.cpp
  LIBS zks_state zks_testdoubles nlohmann_json::nlohmann_json)
# support/wait.h: header-only condition polling.
target_include_directories(state_test PRIVATE ${PROJECT_SOURCE_DIR}/tests)
