# tests/tfn: TFN (models/tfn): PyTorch reference files through check-grads, finite differences of
# its loss, its configuration, and the `mtfn check-grads` command on a TFN file.
set(AREA_LIBS mtfn_cli mtfn_training mtfn_models mtfn_optim mtfn_nn mtfn_data mtfn_core nlohmann_json::nlohmann_json)
