"""The API's resources: short glue from a path, its parameters and its model to the engine.

`listing.Resource` is what they share: one window (`page`), every window
(`scan`), the listings of many keys (`fan_out`), all over the client's one caller.
"""
