"""The API's resources: short glue from a path, its parameters and its model to the engine."""
