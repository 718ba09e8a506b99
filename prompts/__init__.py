"""The prompt files, installed as ``briefqa.prompts`` (see pyproject.toml) and read
with :mod:`importlib.resources`, so that a wheel carries them."""
