"""The pytest plugin of the HelpCrunch emulator (fixtures arrive shortly)."""
