"""What every app shares and no domain owns: the refusal type and bulk SQL helpers.

Not a Django app (no models, no migrations): a plain package at the bottom of the dependency
graph, importing nothing from the apps above it.
"""
