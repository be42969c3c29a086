# One conformance suite for the zk::Client contract (zk_conformance_test.cpp),
# built twice.
# The fake, with and without capabilities: a unit test.
zks_unit_test(zk_conformance_fake_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/zk_conformance_test.cpp
  LIBS zks_testdoubles zks_digest)
# The real backends against a real ZooKeeper 3.8: one ctest test per backend,
# so that all of a backend's cases share one server (a JVM start per case
# would cost minutes). Adding a backend is one line in backends() there.
add_executable(zk_conformance_test ${CMAKE_CURRENT_LIST_DIR}/zk_conformance_test.cpp)
target_link_libraries(zk_conformance_test PRIVATE zks_zk zks_testsupport GTest::gtest GTest::gtest_main)
target_compile_definitions(zk_conformance_test PRIVATE ZKS_CONFORMANCE_REAL=1)
foreach(backend libzookeeper native)
  add_test(NAME zk_conformance_${backend} COMMAND zk_conformance_test --gtest_filter=*/${backend})
  set_tests_properties(zk_conformance_${backend} PROPERTIES LABELS integration RUN_SERIAL TRUE TIMEOUT 300)
endforeach()

# The rules the fake mirrors for requests the packaged C client cannot send
# (addWatch, removeWatches, multiRead), checked on the wire against a real
# server until a backend that sends them runs the suite above.
add_test(NAME zk_server_watch_semantics
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/zk_server_watch_semantics_test.py)
set_tests_properties(zk_server_watch_semantics PROPERTIES LABELS integration SKIP_RETURN_CODE 77 RUN_SERIAL TRUE
  TIMEOUT 120)
