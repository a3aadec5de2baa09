# Install rules and package files: find_package(IpcConformance) then gives
# the targets ipcc::adapter_api, ipcc::reference, ipcc::fixtures,
# ipcc::conformance and ipcc::report, and the function
# ipcc_add_conformance_test() (cmake/IpcConformance.cmake).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(IPCC_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/IpcConformance)

install(TARGETS ipcc_adapter_api ipcc_reference ipcc_fixtures ipcc_conformance ipcc_report
  EXPORT IpcConformanceTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
foreach(dir adapters/include adapters/reference/include fixtures/include conformance/include)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endforeach()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/spec/ DESTINATION ${CMAKE_INSTALL_DATADIR}/IpcConformance/spec)

install(EXPORT IpcConformanceTargets NAMESPACE ipcc:: DESTINATION ${IPCC_CMAKE_DIR})
export(EXPORT IpcConformanceTargets NAMESPACE ipcc:: FILE ${PROJECT_BINARY_DIR}/IpcConformanceTargets.cmake)

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/IpcConformanceConfig.cmake.in
  ${PROJECT_BINARY_DIR}/IpcConformanceConfig.cmake
  INSTALL_DESTINATION ${IPCC_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/IpcConformanceConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/IpcConformanceConfig.cmake
              ${PROJECT_BINARY_DIR}/IpcConformanceConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/IpcConformance.cmake
  DESTINATION ${IPCC_CMAKE_DIR})
