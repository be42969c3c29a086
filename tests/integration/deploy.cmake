# deploy/: the example config, the systemd unit and the stunnel TLS tunnel.

# The example config through the real loader, and its agreement with the
# shipped tunnel and unit.
zks_integration_test(deploy_config_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/deploy_config_test.cpp
  LIBS zks_config
  TIMEOUT 60)
target_compile_definitions(deploy_config_test PRIVATE ZKS_SOURCE_DIR="${PROJECT_SOURCE_DIR}")

# The scripts use /usr/bin/python3: python3-kazoo is installed for it.
# Exit status 77 means a prerequisite is missing (stunnel4, systemd-analyze).
add_test(NAME deploy_systemd_unit
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/deploy_systemd_unit_test.py
          --source-dir ${PROJECT_SOURCE_DIR} --zkstandby $<TARGET_FILE:zkstandby>)
set_tests_properties(deploy_systemd_unit PROPERTIES LABELS integration SKIP_RETURN_CODE 77 TIMEOUT 120)

# A real ZooKeeper behind both stunnel ends, with certificates from
# deploy/stunnel/make-test-certs.sh; zkstandby sync through the tunnel too.
add_test(NAME deploy_stunnel_tunnel
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/deploy_stunnel_test.py
          --source-dir ${PROJECT_SOURCE_DIR} --zkstandby $<TARGET_FILE:zkstandby>)
set_tests_properties(deploy_stunnel_tunnel PROPERTIES LABELS integration SKIP_RETURN_CODE 77 RUN_SERIAL TRUE
  TIMEOUT 240)
