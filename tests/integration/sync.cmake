add_library(zks_cli_harness STATIC ${CMAKE_CURRENT_LIST_DIR}/cli_harness.cpp)
target_include_directories(zks_cli_harness PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(zks_cli_harness PUBLIC nlohmann_json::nlohmann_json)
target_compile_definitions(zks_cli_harness PUBLIC
  ZKSTANDBY_BIN="$<TARGET_FILE:zkstandby>"
  ZKDUMP_SCRIPT="${CMAKE_CURRENT_LIST_DIR}/tools/zkdump.py")
add_dependencies(zks_cli_harness zkstandby)

zks_integration_test(sync_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/sync_test.cpp
  LIBS zks_cli_harness zks_zmstree zks_zk
  TIMEOUT 300)

zks_integration_test(failback_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/failback_test.cpp
  LIBS zks_cli_harness zks_zmstree zks_zk
  TIMEOUT 300)
