# The native ZooKeeper client against real servers (src/zk/native).
zks_integration_test(zk_native_ops_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/zk_native_ops_test.cpp
  LIBS zks_zk
  TIMEOUT 180)
zks_integration_test(zk_native_watch_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/zk_native_watch_test.cpp
  LIBS zks_zk
  TIMEOUT 180)
zks_integration_test(zk_native_fault_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/zk_native_fault_test.cpp
  LIBS zks_zk
  TIMEOUT 300)
zks_integration_test(zk_native_tls_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/zk_native_tls_test.cpp
  LIBS zks_zk
  TIMEOUT 180)
# `zkstandby sync` and `run` over TLS (needs the daemon harness).
zks_integration_test(zk_native_tls_cli_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/zk_native_tls_cli_test.cpp
  LIBS zks_daemon_harness
  TIMEOUT 240)
