zks_unit_test(zk_types_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/zk_types_test.cpp
  LIBS zks_zk)
