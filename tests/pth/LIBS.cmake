# tests/pth: the .pth reader (data/) and MTFN / TFN loaded from a .pth (models/), with JSON sidecars.
set(AREA_LIBS mtfn_training mtfn_models mtfn_optim mtfn_nn mtfn_data mtfn_core nlohmann_json::nlohmann_json)
