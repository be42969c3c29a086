zks_unit_test(daemon_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/daemon_dirty_set_test.cpp ${CMAKE_CURRENT_LIST_DIR}/daemon_replicator_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/daemon_replicator_reliability_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/daemon_readiness_test.cpp ${CMAKE_CURRENT_LIST_DIR}/daemon_watermark_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/daemon_fifo_merge_test.cpp ${CMAKE_CURRENT_LIST_DIR}/daemon_recursive_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/daemon_watch_ledger_test.cpp
  LIBS zks_daemon zks_testdoubles)
