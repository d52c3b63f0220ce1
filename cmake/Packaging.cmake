# Debian packages (CPack DEB), one per component:
#   patchwave        /usr/bin/patchwave (the CLI and `patchwave serve`), patchwave.service,
#                    /etc/patchwave/controller.yaml.example
#   patchwave-agent  /usr/bin/patchwave-agent, patchwave-agent.service,
#                    /etc/patchwave/agent.json.example
# State lives in /var/lib/patchwave and /var/lib/patchwave-agent, made by the units'
# StateDirectory=, so the packages ship no directory there. The maintainer scripts
# (packaging/debian/<package>/) create the system users.
#
#   scripts/package                          a Release build in build/package, then cpack
#   cpack -G DEB --config BUILD/CPackConfig.cmake -B OUT    packages an existing build
if(NOT TARGET patchwave OR NOT TARGET patchwave-agent)
  return()  # a fuzzing build has no binaries to package
endif()

set(PW_PACKAGING_DIR ${PROJECT_SOURCE_DIR}/packaging)

# Relative destinations land under CPACK_PACKAGING_INSTALL_PREFIX (/usr); the units and
# the configuration examples are absolute, as Debian 12 expects them.
install(TARGETS patchwave RUNTIME DESTINATION bin COMPONENT patchwave)
install(FILES ${PW_PACKAGING_DIR}/systemd/patchwave.service
        DESTINATION /lib/systemd/system COMPONENT patchwave)
install(FILES ${PW_PACKAGING_DIR}/controller.yaml.example
        DESTINATION /etc/patchwave COMPONENT patchwave)

install(TARGETS patchwave-agent RUNTIME DESTINATION bin COMPONENT patchwave-agent)
install(FILES ${PW_PACKAGING_DIR}/systemd/patchwave-agent.service
        DESTINATION /lib/systemd/system COMPONENT patchwave-agent)
install(FILES ${PW_PACKAGING_DIR}/agent.json.example
        DESTINATION /etc/patchwave COMPONENT patchwave-agent)

set(PATCHWAVE_PACKAGE_MAINTAINER "Patchwave maintainers <patchwave@localhost>"
    CACHE STRING "Maintainer field of the Debian packages")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME patchwave)
set(CPACK_PACKAGE_VENDOR Patchwave)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${PATCHWAVE_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_COMPONENTS_ALL patchwave patchwave-agent)  # nothing else anyone installs
set(CPACK_DEB_COMPONENT_INSTALL ON)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # NAME_VERSION_ARCH.deb
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
# Control scripts 0755, other control files 0644, whatever the source tree says.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

# Descriptions: a summary line, then the long description (cpack indents it).
set(CPACK_DEBIAN_PATCHWAVE_PACKAGE_NAME patchwave)
set(CPACK_DEBIAN_PATCHWAVE_DESCRIPTION
    "signed patch rollouts: the CLI and the controller
patchwave signs releases with a threshold of keys (TUF metadata), publishes them to a
git repository of manifests, and `patchwave serve` (the controller) verifies them,
enrolls agents and rolls releases out region by region through HAProxy.")
set(CPACK_DEBIAN_PATCHWAVE_PACKAGE_RECOMMENDS haproxy)  # traffic.mode: managed
set(CPACK_DEBIAN_PATCHWAVE_PACKAGE_CONTROL_EXTRA
    "${PW_PACKAGING_DIR}/debian/patchwave/postinst;${PW_PACKAGING_DIR}/debian/patchwave/prerm;${PW_PACKAGING_DIR}/debian/patchwave/postrm;${PW_PACKAGING_DIR}/debian/patchwave/conffiles")

set(CPACK_DEBIAN_PATCHWAVE-AGENT_PACKAGE_NAME patchwave-agent)
set(CPACK_DEBIAN_PATCHWAVE-AGENT_DESCRIPTION
    "signed patch rollouts: the agent daemon
patchwave-agent runs on each server: it enrolls with the controller, verifies every
release against a pinned root of trust before unpacking it, and runs and health-checks
the release's service for the controller, over mutual TLS.")
set(CPACK_DEBIAN_PATCHWAVE-AGENT_PACKAGE_CONTROL_EXTRA
    "${PW_PACKAGING_DIR}/debian/patchwave-agent/postinst;${PW_PACKAGING_DIR}/debian/patchwave-agent/prerm;${PW_PACKAGING_DIR}/debian/patchwave-agent/postrm;${PW_PACKAGING_DIR}/debian/patchwave-agent/conffiles")

# Depends: computed by dpkg-shlibdeps when this machine has it (dpkg-dev), else the
# Debian 12 packages of the libraries the binaries link (readelf -d ... | grep NEEDED).
# The maintainer scripts need adduser; libdate-tz reads the tz database (tzdata).
find_program(PW_DPKG_SHLIBDEPS dpkg-shlibdeps)
mark_as_advanced(PW_DPKG_SHLIBDEPS)
set(PW_AGENT_BASE_DEPENDS "adduser")
set(PW_CONTROLLER_BASE_DEPENDS "adduser, tzdata")
if(PW_DPKG_SHLIBDEPS)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  set(CPACK_DEBIAN_PATCHWAVE_PACKAGE_DEPENDS "${PW_CONTROLLER_BASE_DEPENDS}")
  set(CPACK_DEBIAN_PATCHWAVE-AGENT_PACKAGE_DEPENDS "${PW_AGENT_BASE_DEPENDS}")
else()
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF)
  set(PW_COMMON_LIB_DEPENDS
      "libc6 (>= 2.36), libstdc++6 (>= 12), libgcc-s1 (>= 3.0), libssl3 (>= 3.0.0), libarchive13 (>= 3.6.0), liblzma5 (>= 5.2.2)")
  set(CPACK_DEBIAN_PATCHWAVE_PACKAGE_DEPENDS
      "${PW_CONTROLLER_BASE_DEPENDS}, ${PW_COMMON_LIB_DEPENDS}, libgit2-1.5, libsqlite3-0 (>= 3.40), libpq5 (>= 15), libyaml-cpp0.7, libdate-tz3")
  set(CPACK_DEBIAN_PATCHWAVE-AGENT_PACKAGE_DEPENDS
      "${PW_AGENT_BASE_DEPENDS}, ${PW_COMMON_LIB_DEPENDS}")
endif()

include(CPack)

cpack_add_component(patchwave DISPLAY_NAME "Patchwave CLI and controller")
cpack_add_component(patchwave-agent DISPLAY_NAME "Patchwave agent")
