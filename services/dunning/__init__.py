"""The dunning service: not built yet (see the issues); importable so the layout is whole."""
