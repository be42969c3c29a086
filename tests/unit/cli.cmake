# The pure parts of the CLI (what diff prints), compiled from src/cli.
zks_unit_test(cli_diff_format_test
  SOURCES
    ${CMAKE_CURRENT_LIST_DIR}/cli_diff_format_test.cpp
    ${PROJECT_SOURCE_DIR}/src/cli/diff_format.cpp
    ${PROJECT_SOURCE_DIR}/src/cli/redact.cpp
  LIBS zks_mapping zks_plan nlohmann_json::nlohmann_json)
target_include_directories(cli_diff_format_test PRIVATE ${PROJECT_SOURCE_DIR}/src)
