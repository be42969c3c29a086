zks_unit_test(reconcile_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/reconcile_test.cpp ${CMAKE_CURRENT_LIST_DIR}/plan_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/apply_applier_test.cpp ${CMAKE_CURRENT_LIST_DIR}/reconcile_reliability_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/reconcile_bulk_test.cpp ${CMAKE_CURRENT_LIST_DIR}/reconcile_index_test.cpp
  LIBS zks_reconcile zks_testdoubles)
