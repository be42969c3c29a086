# deploy/prometheus: the alert rules parse (promtool check rules) and behave
# as their unit tests say (promtool test rules). Debian's prometheus package
# ships promtool; scripts/install-deps.sh installs it.
find_program(PROMTOOL promtool)
set(alerts_dir ${PROJECT_SOURCE_DIR}/deploy/prometheus)
if(PROMTOOL)
  add_test(NAME deploy_alert_rules_check
    COMMAND ${PROMTOOL} check rules ${alerts_dir}/zkstandby-alerts.yml)
  add_test(NAME deploy_alert_rules_test
    COMMAND ${PROMTOOL} test rules ${alerts_dir}/zkstandby-alerts.test.yml
    WORKING_DIRECTORY ${alerts_dir})
else()
  # Reported as skipped, not silently absent.
  add_test(NAME deploy_alert_rules_check COMMAND sh -c "echo 'promtool missing (apt-get install prometheus)'; exit 77")
  add_test(NAME deploy_alert_rules_test COMMAND sh -c "echo 'promtool missing (apt-get install prometheus)'; exit 77")
endif()
set_tests_properties(deploy_alert_rules_check deploy_alert_rules_test PROPERTIES LABELS unit SKIP_RETURN_CODE 77 TIMEOUT 60)

# The Grafana dashboard's structure (its queries run in deploy_monitoring).
add_test(NAME deploy_dashboard_json
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/deploy_dashboard_test.py --source-dir ${PROJECT_SOURCE_DIR})
set_tests_properties(deploy_dashboard_json PROPERTIES LABELS unit TIMEOUT 60)
