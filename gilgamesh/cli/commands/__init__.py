"""The ``gilgamesh`` commands, one module a group (as pip's ``commands/``); each module's
``COMMANDS`` is its part of the command table."""
