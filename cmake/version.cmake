# The version `zkstandby --version` prints: the project VERSION and the git
# commit of the source tree ("<short hash>[-dirty]", or "unknown" outside git,
# e.g. a source tarball). The commit is looked up at build time by a target
# that always runs but rewrites the header only when its text changes, so a
# new commit shows after the next build without re-running cmake, and an
# unchanged one recompiles nothing.
#
# Builds from a tarball may name their commit: -DZKS_GIT_COMMIT_OVERRIDE=<text>.
set(ZKS_GIT_COMMIT_OVERRIDE "" CACHE STRING "Commit to report when the source tree is not a git checkout")
set(ZKS_GENERATED_DIR ${PROJECT_BINARY_DIR}/generated)
add_custom_target(zks_version
  COMMAND ${CMAKE_COMMAND}
          -DSOURCE_DIR=${PROJECT_SOURCE_DIR}
          -DOUTPUT=${ZKS_GENERATED_DIR}/zks_version.h
          -DVERSION=${PROJECT_VERSION}
          -DOVERRIDE=${ZKS_GIT_COMMIT_OVERRIDE}
          -P ${PROJECT_SOURCE_DIR}/cmake/write_version.cmake
  BYPRODUCTS ${ZKS_GENERATED_DIR}/zks_version.h
  VERBATIM)
