"""The wire types: msgspec Structs for each resource's JSON, one file per resource."""
