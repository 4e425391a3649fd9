# tests/data: the data library, core (for make_batch), mtfn_cli (the synth / inspect commands), nlohmann_json (sidecars).
set(AREA_LIBS mtfn_cli mtfn_data mtfn_core nlohmann_json::nlohmann_json)
