set(AREA_LIBS mtfn_optim mtfn_nn mtfn_core)
