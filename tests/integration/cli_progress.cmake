# The sync/diff progress line on a pseudo-terminal, against real servers.
# Exit status 77 means a prerequisite is missing (java, ZooKeeper, kazoo).
add_test(NAME cli_progress_tty
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/cli_progress_tty_test.py
          --zkstandby $<TARGET_FILE:zkstandby> --zmsgen $<TARGET_FILE:zks-zmsgen>)
set_tests_properties(cli_progress_tty PROPERTIES LABELS integration SKIP_RETURN_CODE 77 RUN_SERIAL TRUE TIMEOUT 180)
