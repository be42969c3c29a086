# The libzookeeper-mt client and the test harness, against real servers.
zks_integration_test(zk_support_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/zk_support_test.cpp
  TIMEOUT 120)
zks_integration_test(zk_client_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/zk_client_test.cpp
  LIBS zks_zk
  TIMEOUT 120)
zks_integration_test(zk_stress_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/zk_stress_test.cpp
  LIBS zks_zk
  TIMEOUT 180)
