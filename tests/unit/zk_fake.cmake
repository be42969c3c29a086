zks_unit_test(zk_fake_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/zk_fake_test.cpp
  LIBS zks_testdoubles)
zks_unit_test(zk_fault_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/zk_fault_test.cpp
  LIBS zks_testdoubles)
