# The Debian package: cpack, dpkg-deb -I/-c, lintian (no errors), and the
# unpacked binary's --version. Exit status 77: a packaging tool is missing.
add_test(NAME deploy_package
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/deploy_package_test.py
          --build-dir ${PROJECT_BINARY_DIR} --source-dir ${PROJECT_SOURCE_DIR} --version ${PROJECT_VERSION}
          --zkstandby $<TARGET_FILE:zkstandby>)
set_tests_properties(deploy_package PROPERTIES LABELS integration SKIP_RETURN_CODE 77 RUN_SERIAL TRUE TIMEOUT 600)
