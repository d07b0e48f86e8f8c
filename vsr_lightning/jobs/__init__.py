"""Jobs of the main run: training stages and their prerequisites, each cached by its configuration."""
