# The mapping engine: table-driven unit tests, golden trees for every file in
# mappings/, and a seeded randomized test.
zks_unit_test(mapping_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/mapping_glob_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/mapping_properties_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/mapping_json_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/mapping_engine_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/mapping_loader_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/mapping_golden_test.cpp
    ${CMAKE_CURRENT_LIST_DIR}/mapping_random_test.cpp
  LIBS zks_mapping nlohmann_json::nlohmann_json)
target_compile_definitions(mapping_test PRIVATE ZKS_SOURCE_DIR="${PROJECT_SOURCE_DIR}")

# `validate` and `map` as an operator runs them (no ZooKeeper needed: payloads
# come from --data-file; the unreachable case uses a closed port).
if(TARGET zkstandby)
  zks_unit_test(mapping_cli_test
    SOURCES ${CMAKE_CURRENT_LIST_DIR}/mapping_cli_test.cpp
    LIBS zks_common)
  add_dependencies(mapping_cli_test zkstandby)
  target_compile_definitions(mapping_cli_test PRIVATE
    ZKS_SOURCE_DIR="${PROJECT_SOURCE_DIR}" ZKSTANDBY_BIN="$<TARGET_FILE:zkstandby>")
endif()
