# Failover, status, resume (the real binary), fence and election on real servers.
zks_integration_test(state_failover_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/state_failover_test.cpp
  LIBS zks_state zks_zk nlohmann_json::nlohmann_json
  TIMEOUT 300)
target_compile_definitions(state_failover_test PRIVATE ZKS_BINARY="$<TARGET_FILE:zkstandby>")
add_dependencies(state_failover_test zkstandby)

# The operator's side of failover day through the real binary: reverse-mode
# interlock, resume on the rebuilt primary, counters nobody saved, record
# ACLs, status fields, credentials and config checks, diff redaction.
zks_integration_test(state_cli_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/state_cli_test.cpp
  LIBS zks_cli_harness zks_state zks_zk nlohmann_json::nlohmann_json
  TIMEOUT 300)
