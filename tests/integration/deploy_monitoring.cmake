# deploy/grafana and deploy/prometheus against Debian's Prometheus server
# scraping a real daemon between two real ZooKeepers.
# Exit status 77 means a prerequisite is missing (prometheus, java, ZooKeeper, kazoo).
add_test(NAME deploy_monitoring
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/deploy_monitoring_test.py
          --source-dir ${PROJECT_SOURCE_DIR} --zkstandby $<TARGET_FILE:zkstandby> --zmsgen $<TARGET_FILE:zks-zmsgen>)
set_tests_properties(deploy_monitoring PROPERTIES LABELS integration SKIP_RETURN_CODE 77 RUN_SERIAL TRUE TIMEOUT 240)
