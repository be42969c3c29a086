# What `cmake --install` puts where, and the Debian package CPack builds
# from it (`cpack -G DEB` in the build folder, or the `package` target).
#
# Layout (with the package's prefix /usr):
#   /usr/bin/zkstandby
#   /lib/systemd/system/zkstandby.service     (installed, not enabled)
#   /etc/zkstandby/zkstandby.yaml             (conffile; the folder is root:zkstandby 0750)
#   /usr/share/zkstandby/mappings/*.yaml      (examples)
#   /usr/share/zkstandby/prometheus/zkstandby-alerts.yml
#   /usr/share/zkstandby/grafana/zkstandby-dashboard.json
#   /usr/share/doc/zkstandby/                 (README.md, docs/*.md, copyright, changelog.Debian.gz,
#                                              examples/stunnel/)
#   /usr/share/man/man1/zkstandby.1.gz        (help2man, from --help)
# The /etc and /lib paths are absolute on purpose: they are where Debian
# and systemd look, whatever the prefix.

set(ZKS_DEB_RELEASE 1)
set(ZKS_DEB_VERSION ${PROJECT_VERSION}-${ZKS_DEB_RELEASE})
set(doc_dir share/doc/zkstandby)
set(pkg_dir ${PROJECT_BINARY_DIR}/packaging)

install(TARGETS zkstandby RUNTIME DESTINATION bin)
install(FILES deploy/zkstandby.service DESTINATION /lib/systemd/system)
# The example config goes in unless one is there already: `cmake --install`
# over a configured host must not replace the operator's file. (In the
# package it is a conffile, which dpkg itself protects.)
install(CODE "
  if(EXISTS \"\$ENV{DESTDIR}/etc/zkstandby/zkstandby.yaml\")
    message(STATUS \"Keeping the existing /etc/zkstandby/zkstandby.yaml\")
  else()
    file(INSTALL DESTINATION /etc/zkstandby TYPE FILE FILES \"${PROJECT_SOURCE_DIR}/deploy/zkstandby.yaml\")
  endif()")
install(DIRECTORY mappings/ DESTINATION share/zkstandby/mappings FILES_MATCHING PATTERN "*.yaml")
install(FILES deploy/prometheus/zkstandby-alerts.yml DESTINATION share/zkstandby/prometheus)
install(FILES deploy/grafana/zkstandby-dashboard.json DESTINATION share/zkstandby/grafana)
install(FILES README.md deploy/debian/copyright DESTINATION ${doc_dir})
# docs/ is looked at when installing, not when configuring: it may appear later.
install(DIRECTORY docs/ DESTINATION ${doc_dir}/docs OPTIONAL FILES_MATCHING PATTERN "*.md")
install(FILES deploy/stunnel/zkstandby-client.conf deploy/stunnel/zookeeper-server.conf
        DESTINATION ${doc_dir}/examples/stunnel)

# changelog.Debian.gz: lintian wants one in a non-native package, with the
# package's version, compressed reproducibly.
configure_file(deploy/debian/changelog.in ${pkg_dir}/changelog.Debian @ONLY)
add_custom_command(OUTPUT ${pkg_dir}/changelog.Debian.gz
  COMMAND gzip -9nkf ${pkg_dir}/changelog.Debian
  DEPENDS ${pkg_dir}/changelog.Debian
  VERBATIM)
add_custom_target(zks_deb_changelog ALL DEPENDS ${pkg_dir}/changelog.Debian.gz)
install(FILES ${pkg_dir}/changelog.Debian.gz DESTINATION ${doc_dir})

# The man page, generated from --help whenever the binary changes.
find_program(HELP2MAN help2man)
if(HELP2MAN)
  add_custom_command(OUTPUT ${pkg_dir}/zkstandby.1.gz
    COMMAND ${CMAKE_COMMAND} -DBINARY=$<TARGET_FILE:zkstandby> -DHELP2MAN=${HELP2MAN}
            -DINCLUDE=${PROJECT_SOURCE_DIR}/deploy/debian/zkstandby.h2m -DVERSION=${PROJECT_VERSION}
            -DOUTPUT=${pkg_dir}/zkstandby.1.gz -DWORK_DIR=${pkg_dir}
            -P ${PROJECT_SOURCE_DIR}/cmake/man_page.cmake
    DEPENDS zkstandby ${PROJECT_SOURCE_DIR}/deploy/debian/zkstandby.h2m ${PROJECT_SOURCE_DIR}/cmake/man_page.cmake
    VERBATIM)
  add_custom_target(zks_man_page ALL DEPENDS ${pkg_dir}/zkstandby.1.gz)
  install(FILES ${pkg_dir}/zkstandby.1.gz DESTINATION share/man/man1)
else()
  message(STATUS "help2man not found: no man page (the Debian package needs it; scripts/install-deps.sh installs it)")
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME zkstandby)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "zk-standby maintainers <maintainers@users.noreply.h-seed-a4e7f6fa.example>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "keeps a standby ZooKeeper in step with the primary's")
# Absolute destinations (/etc, /lib) go into the package, not onto this
# machine: CPack installs with DESTDIR, and then takes the prefix from
# CPACK_INSTALL_PREFIX.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${ZKS_DEB_RELEASE})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The synopsis is CPACK_PACKAGE_DESCRIPTION_SUMMARY; this is the rest.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "zk-standby replicates a primary datacenter's ZooKeeper tree to a cold-standby
datacenter's ZooKeeper, rewriting every reference to a primary-site cluster
(names, host addresses) to its standby-site twin through mapping rules, so
that the standby site's applications take over without changes.
.
This package ships the zkstandby daemon and command-line tool (run, sync,
diff, failover, resume, status, validate, map), a systemd unit, an example
configuration, mapping examples, Prometheus alert rules and a Grafana
dashboard.")
# Library dependencies come from dpkg-shlibdeps; adduser is for the postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${PROJECT_SOURCE_DIR}/deploy/debian/postinst
  ${PROJECT_SOURCE_DIR}/deploy/debian/prerm
  ${PROJECT_SOURCE_DIR}/deploy/debian/postrm
  ${PROJECT_SOURCE_DIR}/deploy/debian/conffiles)
# Maintainer scripts 0755, conffiles 0644, whatever the checkout's modes.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/package)
# `package_source`: a tarball of the sources without build folders or git
# (a build from it reports its commit as "unknown").
set(CPACK_SOURCE_GENERATOR TGZ)
set(CPACK_SOURCE_IGNORE_FILES "/\\.git" "/build[^/]*/" "/\\.cache/" "__pycache__")
include(CPack)
