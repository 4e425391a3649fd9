# tests/mtfn: MTFN end to end: the model (models/mtfn), the training it goes through (training/) and the
# `mtfn` program (cli/, its report page: report/), over data/ and core/. zlib: the tests read PNGs (png.h).
find_package(ZLIB REQUIRED)
set(AREA_LIBS mtfn_cli mtfn_training mtfn_models mtfn_optim mtfn_nn mtfn_data mtfn_core nlohmann_json::nlohmann_json
    ZLIB::ZLIB)
# The whole suite trains through the `mtfn` program several times (seconds in Release, minutes
# under the sanitizers): label "slow". Its fast suites (metrics, config, check-grads) also run as
# `mtfn_unit`, labelled "unit", so the sanitizer build checks them.
set(AREA_LABELS slow)
add_test(NAME mtfn_unit COMMAND test_mtfn --run_test=metrics,config,check_grads,console_text,manifest --log_level=test_suite
         --report_level=short)
set_tests_properties(mtfn_unit PROPERTIES LABELS unit WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
