# The README's five-minute tour, copy-pasted block by block into one shell
# against the demo's two real ZooKeeper servers (scripts/demo.sh --keep).
# Exit status 77 means a prerequisite is missing (java, ZooKeeper, curl, kazoo).
add_test(NAME readme_tour
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/readme_tour_test.py
          --source-dir ${PROJECT_SOURCE_DIR}
          --zkstandby $<TARGET_FILE:zkstandby> --zmsgen $<TARGET_FILE:zks-zmsgen>)
set_tests_properties(readme_tour PROPERTIES LABELS integration SKIP_RETURN_CODE 77 RUN_SERIAL TRUE TIMEOUT 240)
