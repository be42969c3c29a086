zks_unit_test(config_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/config_test.cpp
  LIBS zks_config)
target_compile_definitions(config_test PRIVATE ZKS_CONFIG_TESTDATA="${CMAKE_CURRENT_LIST_DIR}/testdata/config")
