# `zkstandby run`: integration and fault tests against real servers, the
# daemon as a child process, checked through kazoo against map(primary).
add_library(zks_daemon_harness STATIC ${CMAKE_CURRENT_LIST_DIR}/daemon_harness.cpp)
target_include_directories(zks_daemon_harness PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(zks_daemon_harness PUBLIC zks_cli_harness zks_zmstree zks_testsupport zks_zk
  PkgConfig::HTTPLIB GTest::gtest)

# Every daemon suite runs in each watch mode (daemon_harness.h DaemonMode):
# recursive and per_node always; the libzookeeper instances of the general
# suites carry the label all-modes (not integration) and are skipped unless
# ZKS_TEST_ALL_MODES=1 (`ZKS_TEST_ALL_MODES=1 ctest -L all-modes`). Tests
# about one backend (Recursive/, Libzookeeper/) always run.
function(zks_daemon_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE zks_daemon_harness zks_testsupport GTest::gtest GTest::gtest_main)
  gtest_discover_tests(${name} TEST_FILTER "-Modes/*/libzookeeper"
    PROPERTIES LABELS integration RUN_SERIAL TRUE TIMEOUT ${T_TIMEOUT} DISCOVERY_TIMEOUT 60)
  gtest_discover_tests(${name} TEST_FILTER "Modes/*/libzookeeper"
    PROPERTIES LABELS all-modes RUN_SERIAL TRUE TIMEOUT ${T_TIMEOUT} DISCOVERY_TIMEOUT 60)
endfunction()

# Storm, drift audit, the standby's own ephemerals, clean stop.
zks_daemon_test(daemon_replication_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/daemon_replication_test.cpp
  TIMEOUT 150)
# Partitions through the proxy, kill -9 of the backup server and of the
# daemon, a reconnect with more than 1 MiB of watched paths.
zks_daemon_test(daemon_fault_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/daemon_fault_test.cpp
  TIMEOUT 180)
# Two daemons (leader killed, leader frozen), failover under load.
zks_daemon_test(daemon_ha_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/daemon_ha_test.cpp
  TIMEOUT 150)
# Failover day (issue 12): counters right after a first pass, reverse mode
# bound to the backup's role, no ACL write after a failover, an election that
# heals, /readyz and the state record, parked refusals, SIGHUP and auth.
zks_daemon_test(daemon_reliability_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/daemon_reliability_test.cpp
  TIMEOUT 400)
# How the primary is watched (issue 11): one watch per root, a reset and its
# re-verification, unreadable nodes, stops during an outage, values that
# never go back under a storm with audits, the ZOOKEEPER-706 band.
zks_daemon_test(daemon_watch_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/daemon_watch_test.cpp
  TIMEOUT 300)
