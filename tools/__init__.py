"""Programs that are not part of the installed nbhelpers package: the training programs of the committed demos.

Run them from the project root, for example `python -m tools.train_demo_llm`.
"""
