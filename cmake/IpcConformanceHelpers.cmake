# ipcc_add_library(<name> <sources...> [PUBLIC_INCLUDE <dir>])
# One helper for every library of the project: builds ipcc_<name>, gives it
# the ALIAS ipcc::<name> (the only names consumers and our own tests link) and
# the export name <name>, and the project's warning flags.
function(ipcc_add_library name)
  cmake_parse_arguments(ARG "" "PUBLIC_INCLUDE" "SOURCES" ${ARGN})
  add_library(ipcc_${name} STATIC ${ARG_SOURCES})
  add_library(ipcc::${name} ALIAS ipcc_${name})
  set_target_properties(ipcc_${name} PROPERTIES EXPORT_NAME ${name} POSITION_INDEPENDENT_CODE ON)
  if(ARG_PUBLIC_INCLUDE)
    target_include_directories(ipcc_${name} PUBLIC
      $<BUILD_INTERFACE:${ARG_PUBLIC_INCLUDE}>
      $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  endif()
  target_compile_features(ipcc_${name} PUBLIC cxx_std_20)
  target_compile_options(ipcc_${name} PRIVATE -Wall -Wextra -Wpedantic)
endfunction()
