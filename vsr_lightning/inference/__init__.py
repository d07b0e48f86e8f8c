"""The one inference engine: validation, stage-one output caching and the ``enhance`` command all run on it."""
