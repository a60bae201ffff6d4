"""The wire types: msgspec Structs for each resource's JSON, one file per resource.

Every variant the API's documentation shows (timestamps, statuses, list keys,
where the total is) is normalised once, in `common`, and each model says which
of them it meets.
"""
