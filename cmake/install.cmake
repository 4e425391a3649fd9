# The installed library: `cmake --install build --prefix P` gives
#   P/include/mtfn/<folder>/*.h     the headers, included as "core/tensor.h" with include dir P/include/mtfn
#   P/lib/libmtfn_<folder>.a        the static libraries
#   P/lib/cmake/mtfn/               the package: find_package(mtfn CONFIG) -> mtfn::core, mtfn::nn, ...
#   P/bin/mtfn                      the program
# Not here: how each library is built (each folder's CMakeLists.txt).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(MTFN_INSTALL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR}/mtfn)
set(MTFN_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/mtfn)

# Installed folder -> its library target. The exported name is the folder's: mtfn_core -> mtfn::core.
set(MTFN_INSTALLED_FOLDERS core nn optim data distributed models training)

# A user of the package needs C++20 (the headers use <span>, <bit>, designated initialisers).
target_compile_features(mtfn_core PUBLIC cxx_std_20)

foreach(folder ${MTFN_INSTALLED_FOLDERS})
  set(target mtfn_${folder})
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${folder})
  # The same include root inside the build (the project root) and once installed (include/mtfn).
  target_include_directories(${target} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>
                                              $<INSTALL_INTERFACE:${MTFN_INSTALL_INCLUDEDIR}>)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${folder}/ DESTINATION ${MTFN_INSTALL_INCLUDEDIR}/${folder}
          FILES_MATCHING PATTERN "*.h")
  list(APPEND MTFN_INSTALLED_TARGETS ${target})
endforeach()

install(TARGETS ${MTFN_INSTALLED_TARGETS} EXPORT mtfnTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS mtfn RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(EXPORT mtfnTargets NAMESPACE mtfn:: DESTINATION ${MTFN_INSTALL_CMAKEDIR})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/mtfnConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/mtfnConfig.cmake
                              INSTALL_DESTINATION ${MTFN_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/mtfnConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/mtfnConfig.cmake ${PROJECT_BINARY_DIR}/mtfnConfigVersion.cmake
        DESTINATION ${MTFN_INSTALL_CMAKEDIR})

# A Debian package of the same install tree: `cd build && cpack -G DEB` -> mtfn_<version>_<arch>.deb.
# Its dependencies are the Debian packages the build found (the -dev ones, since the libraries are static).
set(CPACK_PACKAGE_NAME mtfn)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "mtfn developers")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Autograd library on OpenBLAS and oneTBB, and MMSA's MTFN and TFN on it")
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libopenblas-dev, libtbb-dev, libfmt-dev, nlohmann-json3-dev, libzip-dev, libopenmpi-dev, openmpi-bin, gnuplot-nox")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
include(CPack)
