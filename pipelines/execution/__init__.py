"""Where networks train: one after another in this process, or fanned out on Ray."""
