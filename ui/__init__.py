"""Widgets, item models, delegates and dialogs of the inbox (PySide6, ``sync.model``, ``sync.recall_rules``).

Data comes in through ``ui.sources.InboxReader`` (implemented by the desktop layer over the cache);
user intents leave as Qt signals of ``ui.main_window.MainWindow`` carrying frozen ``sync.model`` values.
Nothing heavy happens at import: modules only define classes.
"""
