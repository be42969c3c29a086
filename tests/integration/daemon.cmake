# `zkstandby run`: integration and fault tests against real servers, the
# daemon as a child process, checked through kazoo against map(primary).
add_library(zks_daemon_harness STATIC ${CMAKE_CURRENT_LIST_DIR}/daemon_harness.cpp)
target_include_directories(zks_daemon_harness PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(zks_daemon_harness PUBLIC zks_cli_harness zks_zmstree zks_testsupport zks_zk
  PkgConfig::HTTPLIB GTest::gtest)

# Storm, drift audit, the standby's own ephemerals, clean stop.
zks_integration_test(daemon_replication_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/daemon_replication_test.cpp
  LIBS zks_daemon_harness
  TIMEOUT 150)
# Partitions through the proxy, kill -9 of the backup server and of the
# daemon, a reconnect with more than 1 MiB of watched paths.
zks_integration_test(daemon_fault_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/daemon_fault_test.cpp
  LIBS zks_daemon_harness
  TIMEOUT 180)
# Two daemons (leader killed, leader frozen), failover under load.
zks_integration_test(daemon_ha_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/daemon_ha_test.cpp
  LIBS zks_daemon_harness
  TIMEOUT 150)
# Failover day (issue 12): counters right after a first pass, reverse mode
# bound to the backup's role, no ACL write after a failover, an election that
# heals, /readyz and the state record, parked refusals, SIGHUP and auth.
zks_integration_test(daemon_reliability_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/daemon_reliability_test.cpp
  LIBS zks_daemon_harness
  TIMEOUT 400)
