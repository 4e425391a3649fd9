# tests/mtfn_attn: mtfn_attn (models/mtfn_attn): PyTorch reference files through check-grads, finite
# differences of its loss, its trimodal token, its configuration, and a short training run through the
# `mtfn` program (train, test, predict). The training suite runs the program several times: the area is
# "slow"; its fast suites also run as `mtfn_attn_unit`, labelled "unit", so the sanitizer build checks them.
set(AREA_LIBS mtfn_cli mtfn_training mtfn_models mtfn_optim mtfn_nn mtfn_data mtfn_core nlohmann_json::nlohmann_json)
set(AREA_LABELS slow)
add_test(NAME mtfn_attn_unit COMMAND test_mtfn_attn --run_test=mtfn_attn_check_grads,mtfn_attn_model,mtfn_attn_config
         --log_level=test_suite --report_level=short)
set_tests_properties(mtfn_attn_unit PROPERTIES LABELS unit WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
