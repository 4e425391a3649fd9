# tests/data links the data library (and core, for make_batch) plus nlohmann_json for the sidecars.
set(AREA_LIBS mtfn_data mtfn_core nlohmann_json::nlohmann_json)
