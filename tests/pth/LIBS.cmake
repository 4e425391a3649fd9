# tests/pth: the .pth reader (data/) and MTFN loaded from a .pth (models/mtfn), with JSON sidecars.
set(AREA_LIBS mtfn_cli mtfn_training mtfn_models mtfn_data mtfn_core nlohmann_json::nlohmann_json)
foreach(lib mtfn_nn mtfn_optim)
  if(TARGET ${lib})
    list(APPEND AREA_LIBS ${lib})
  endif()
endforeach()
