"""Name -> implementation tables (open_lth style): adding a model or a pruning criterion
is one decorated function, and the CLI and config validation pick it up by name."""

from lth_tf.errors import UserError


class Registry(dict):
    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind

    def register(self, name: str):
        def add(implementation):
            self[name] = implementation
            return implementation

        return add

    def lookup(self, name: str):
        """The implementation, or a one-line error listing the known names."""
        if name not in self:
            raise UserError(f"unknown {self.kind} '{name}'; choose from {', '.join(sorted(self))}")
        return self[name]
