"""The model zoo: pretrained starting points trained by this project, their recipes and pinned footage."""
