set(AREA_LIBS mtfn_nn mtfn_core)
