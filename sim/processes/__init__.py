"""The submodels of docs/ODD.md §7, one module each; :class:`sim.model.LocalAuthority` runs them.

Every function takes the model explicitly and draws only from the named stream it states.
docs/ODD.md §7.21 maps each submodel to its module and main functions.
"""
