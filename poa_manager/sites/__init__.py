"""Sites: the components of a programme (CPA, VPA or instance) and their inclusion."""
